/* Messages from the root to a child that asks for them (childboot.h
 * CHILD_ROOT_MSG_*; TLFS "Inter-Partition Communication"): the child
 * writes how many it wants to its mailbox once its SIM page and SINT are
 * ready; on the VMMS's next turn the root makes a message port in the
 * child (CHILD_ROOT_MSG_PORT, VP 0, SINT CHILD_ROOT_MSG_SINT) and its own
 * connection to it, then posts one message a turn with
 * HvCallPostMessage.  INSUFFICIENT_BUFFERS (the SINT's queue is full, or
 * the child turned its SynIC off) is tried again next turn; any other
 * failure ends the posting.  Deleting the child removes the port and the
 * connection (docs/hypervisor.md "Ports and connections"). */
#include <hv/childboot.h>
#include <hv/tlfs.h>

#include "kernel.h"
#include "vid.h"
#include "vmms.h"

/* The root's connection id: one per child in the root's table. */
static uint32_t conn_id(unsigned index)
{
	return CHILD_ROOT_MSG_PORT | (index & 0xff);
}

/* What the child asks for, read once from its mailbox (its memory). */
static uint32_t wanted(const struct rk_child *ch)
{
	const volatile struct hv_child_mailbox *mb = ch->mailbox;
	uint32_t n;

	if (!mb || mb->magic != CHILD_MAILBOX_MAGIC)
		return 0;
	n = mb->root_messages;
	return n < CHILD_ROOT_MSG_MAX ? n : CHILD_ROOT_MSG_MAX;
}

void childmsg_turn(struct rk_child *ch, unsigned index)
{
	struct hv_input_post_message in = { .connection_id = conn_id(index), .message_type = CHILD_ROOT_MSG_TYPE,
					    .payload_size = sizeof(struct child_root_msg) };
	struct child_root_msg m;
	uint16_t st;

	if (ch->msg_status || (!ch->msg_wanted && !(ch->msg_wanted = wanted(ch))) || ch->msg_posted >= ch->msg_wanted)
		return;
	if (!ch->msg_connected) {
		st = synicdev_pair_create(ch->id, CHILD_ROOT_MSG_PORT, HV_PORT_TYPE_MESSAGE, 0, CHILD_ROOT_MSG_SINT, 0, 0,
					  HV_PARTITION_ID_SELF, conn_id(index));
		if (st) {
			ch->msg_status = st;
			return;
		}
		ch->msg_connected = true;
	}
	m = (struct child_root_msg){ .seq = ch->msg_posted, .count = ch->msg_wanted };
	memcpy(in.payload, &m, sizeof(m));
	st = (uint16_t)vid_call(HVCALL_POST_MESSAGE, 0, &in, sizeof(in), NULL, 0);
	if (st == HV_STATUS_INSUFFICIENT_BUFFERS)
		ch->msg_busy++;
	else if (st)
		ch->msg_status = st;
	else
		ch->msg_posted++;
}

void childmsg_report(const struct rk_child *ch)
{
	if (!ch->msg_wanted && !ch->msg_status)
		return;
	rk_report(!ch->msg_status && ch->msg_posted == ch->msg_wanted,
		  "%s: %u of %u messages posted to its SINT%u (port 0x%x), %u retried after "
		  "HV_STATUS_INSUFFICIENT_BUFFERS (status 0x%x)", ch->cfg.name, ch->msg_posted, ch->msg_wanted,
		  CHILD_ROOT_MSG_SINT, CHILD_ROOT_MSG_PORT, ch->msg_busy, ch->msg_status);
}
