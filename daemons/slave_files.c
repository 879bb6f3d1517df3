/*
 * slave_files.c - bpcp's requests at a node (docs/bpcp.md).
 *
 * The master passes on requests for this node's files with the asker's
 * credentials; a client of this node asking about this node's own files
 * is who the kernel says it is.  Either way the work is file_service.c's:
 * a worker with the asker's identity, on a one-shot port.
 */
#include <errno.h>
#include <string.h>

#include "file_service.h"
#include "slave.h"

int slave_files_request(struct slave *s, struct conn *conn, const Msg *msg, bool from_master)
{
	struct file_asker who;
	int r;

	r = from_master ? file_asker_from_creds(msg->creds, &who) :
			  file_asker_from_socket(conn->fd, &who);
	if (r < 0)
		return conn_reply(conn, msg->id, -EPROTO, "cannot tell who asks: %s", strerror(-r));
	if (msg->file_transfer_request->node != s->node)
		return conn_reply(conn, msg->id, -EINVAL, "this is node %d, not node %d", s->node,
				  msg->file_transfer_request->node);
	/* The master fills in the address the asker reaches us at. */
	return file_service_answer(conn, msg, &who, s->node, from_master ? NULL : "127.0.0.1",
				   s->auth.encrypt);
}
