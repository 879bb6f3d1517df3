/*
 * launch_relay.c - a slave's part in the fan-out of a launch on many
 * nodes (bproc_vexecmove): the master sent us the image of our own copy
 * and, in LaunchRelay, the copies we pass on.  For each we write the
 * image under that copy's pid (migrate/image_pid.c), connect to its node's
 * move port, say MoveHello with the move's token (the master told that
 * node to expect it), and queue the ImageChunks and the RestoreRequest the
 * master made.  The target restores and reports to the master itself; a
 * copy we cannot pass on we report failed to the master, naming us.  Our
 * own restore (the RestoreRequest after LaunchRelay) comes after, so the
 * others do not wait for it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "image_pid.h"
#include "log.h"
#include "move_source.h"
#include "slave.h"

/* The target closes the connection after the RestoreRequest; nothing
 * comes back on it. */
static int relay_msg(struct conn *conn, Msg *msg, void *data)
{
	(void)conn;
	(void)msg;
	(void)data;
	return -EPROTO;
}

static void report_failed(struct slave *s, const Bproc__RelayTarget *t, int status,
			  const char *why)
{
	Bproc__RestoreResult res = BPROC__RESTORE_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;
	char message[700];

	snprintf(message, sizeof(message), "node %d could not pass the image on to node %d: %s",
		 s->node, t->node, why);
	pr_warn("move %llu: %s", (unsigned long long)t->move_id, message);
	res.move_id = t->move_id;
	res.status = status;
	res.message = message;
	msg.body_case = BPROC__MSG__BODY_RESTORE_RESULT;
	msg.restore_result = &res;
	slave_send_to_master(s, &msg);
}

static int relay_one(struct slave *s, const char *from_dir, pid_t from_pid,
		     const Bproc__RelayTarget *t, char *err, size_t errlen)
{
	Bproc__MoveHello hello = BPROC__MOVE_HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;
	char dir[200], name[64];
	struct conn *peer;
	int fd, r;

	snprintf(dir, sizeof(dir), "%s-relay-%llu", from_dir, (unsigned long long)t->move_id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	r = image_copy_for_pid(from_dir, from_pid, dir, t->restore->pid, err, errlen);
	if (r < 0)
		goto out;
	fd = slave_connect_peer(t->addr, t->port);
	if (fd < 0) {
		r = fd;
		snprintf(err, errlen, "cannot reach it at %s:%u: %s", t->addr, t->port, strerror(-r));
		goto out;
	}
	snprintf(name, sizeof(name), "relay of move %llu to node %d",
		 (unsigned long long)t->move_id, t->node);
	r = conn_new(s->loop, fd, name, relay_msg, NULL, s, &peer);
	if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		goto out;
	}
	hello.move_id = t->move_id;
	hello.token = t->token;
	msg.body_case = BPROC__MSG__BODY_MOVE_HELLO;
	msg.move_hello = &hello;
	r = conn_send(peer, &msg);
	/* The hello in the clear, the rest sealed if the links are. */
	if (r == 0)
		slave_peer_encrypt(s, peer, t->token.data, t->token.len, true);
	if (r == 0)
		r = move_send_image_files(peer, t->move_id, dir, err, errlen);
	else
		snprintf(err, errlen, "%s", strerror(-r));
	if (r == 0) {
		msg.body_case = BPROC__MSG__BODY_RESTORE_REQUEST;
		msg.restore_request = t->restore;
		r = conn_send(peer, &msg);
		if (r < 0)
			snprintf(err, errlen, "sending the restore request: %s", strerror(-r));
	}
	if (r < 0)
		conn_close(peer, NULL);
out:
	/* Everything is queued on the connection: the files can go. */
	move_remove_dir(dir);
	rmdir(dir);
	return r;
}

int slave_launch_relay(struct slave *s, const Bproc__LaunchRelay *lr)
{
	char dir[128];

	if (fault_at("slave-relay-die"))
		kill(getpid(), SIGKILL);
	slave_moves_image_dir(lr->move_id, dir, sizeof(dir));
	for (size_t i = 0; i < lr->n_targets; i++) {
		const Bproc__RelayTarget *t = lr->targets[i];
		char err[512] = "";
		int r;

		if (t->token.len == 0 || !t->restore || t->restore->move_id != t->move_id) {
			report_failed(s, t, -EPROTO, "a bad relay target");
			continue;
		}
		r = relay_one(s, dir, lr->pid, t, err, sizeof(err));
		if (r < 0)
			report_failed(s, t, r, err[0] ? err : strerror(-r));
		else
			pr_info("move %llu: image of %d passed on to node %d",
				(unsigned long long)t->move_id, t->restore->pid, t->node);
	}
	return 0;
}
