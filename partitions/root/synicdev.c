/* The SynIC test device's hypercalls (docs/hypervisor.md "SynIC test
 * device"; abi.h RK_SYS_VMWP_SYNIC).  A child whose configuration says
 * synic_test_device writes commands to port 0x3000 (childboot.h); its
 * worker decodes them and asks the VMMS, which turns each into port and
 * connection hypercalls (TLFS "Inter-Partition Communication") on the
 * child's behalf.  C is the child's partition id, R the root's (SELF):
 *
 *   1 route create   CreatePort(C, port RP, event, target vp/sint, flag 0
 *                    only, connection partition R), then ConnectPort(R,
 *                    connection RC, C, RP, event)
 *   2 route destroy  DisconnectPort(R, RC), then DeletePort(C, RP)
 *   3 raise          SignalEvent(RC, flag 0): flag 0 of that SINT in the
 *                    child's SIEF page, and the SINT fires if the flag
 *                    was clear (the child clears it to be raised again)
 *   4 message conn   CreatePort(C, port conn, message, target vp/sint,
 *                    connection partition C), then ConnectPort(C,
 *                    connection conn, C, port conn, message): the child's
 *                    PostMessage on `conn` lands in its own SINT
 *   5 destroy it     DisconnectPort(C, conn), then DeletePort(C, conn)
 *   6 event conn     as 4 with an event port of flags 0..2047: the
 *                    child's SignalEvent(conn, n) sets flag n of the SINT
 *   7 destroy it     as 5
 *
 * RP = 0x800000 | vp << 4 | sint (apart from the child's own ids, which
 * are below 256); RC = RP | the child's index << 12 (unique in the root's
 * table across children); a SINT above 15 in commands 1-3 is refused
 * with INVALID_PARAMETER and no call.  A create whose ConnectPort fails deletes the
 * port it made; a destroy reports the first status that was not SUCCESS
 * but makes both calls. */
#include <hv/tlfs.h>

#include "kernel.h"
#include "vid.h"
#include "vmms.h"

#define ROUTE_BASE 0x800000u

static uint16_t status(uint64_t rax)
{
	return (uint16_t)rax;
}

static uint16_t create_port(uint64_t part, uint32_t id, uint32_t type, uint32_t vp, uint32_t sint, uint16_t base,
			    uint16_t flags, uint64_t conn_part)
{
	struct hv_input_create_port in = {
		.port_partition_id = part, .port_id = id, .connection_partition_id = conn_part,
		.port_info = { .port_type = type },
	};

	in.port_info.u.event_port_info.target_sint = sint;
	in.port_info.u.event_port_info.target_vp = vp;
	if (type == HV_PORT_TYPE_EVENT) {
		in.port_info.u.event_port_info.base_flag_number = base;
		in.port_info.u.event_port_info.flag_count = flags;
	}
	return status(vid_call(HVCALL_CREATE_PORT, 0, &in, sizeof(in), NULL, 0));
}

static uint16_t delete_port(uint64_t part, uint32_t id)
{
	struct hv_input_delete_port in = { .port_partition_id = part, .port_id = id };

	return status(vid_call(HVCALL_DELETE_PORT, 0, &in, sizeof(in), NULL, 0));
}

static uint16_t connect(uint64_t conn_part, uint32_t conn, uint64_t port_part, uint32_t port, uint32_t type)
{
	struct hv_input_connect_port in = {
		.connection_partition_id = conn_part, .connection_id = conn,
		.port_partition_id = port_part, .port_id = port,
		.connection_info = { .port_type = type },
	};

	return status(vid_call(HVCALL_CONNECT_PORT, 0, &in, sizeof(in), NULL, 0));
}

static uint16_t disconnect(uint64_t conn_part, uint32_t conn)
{
	struct hv_input_disconnect_port in = { .connection_partition_id = conn_part, .connection_id = conn };

	return status(vid_call(HVCALL_DISCONNECT_PORT, 0, &in, sizeof(in), NULL, 0));
}

uint16_t synicdev_pair_create(uint64_t child, uint32_t port, uint32_t type, uint32_t vp, uint32_t sint,
			      uint16_t base, uint16_t flags, uint64_t conn_part, uint32_t conn)
{
	uint16_t st = create_port(child, port, type, vp, sint, base, flags, conn_part);

	if (st)
		return st;
	st = connect(conn_part, conn, child, port, type);
	if (st)
		delete_port(child, port);
	return st;
}

static uint16_t pair_destroy(uint64_t child, uint32_t port, uint64_t conn_part, uint32_t conn)
{
	uint16_t a = disconnect(conn_part, conn), b = delete_port(child, port);

	return a ? a : b;
}

uint16_t synicdev_command(uint64_t child, unsigned index, uint32_t op, uint32_t vp, uint32_t sint, uint32_t conn)
{
	uint32_t rp = ROUTE_BASE | vp << 4 | (sint & 0xf), rc = rp | (index & 0x7) << 12;
	struct hv_input_signal_event ev = { .connection_id = rc, .flag_number = 0 };

	/* A route's ids hold 4 bits of SINT: a SINT above 15, which no
	 * CreatePort would take either, is refused without a call. */
	if (sint >= HV_SYNIC_SINT_COUNT && op <= RK_SYNIC_ROUTE_RAISE)
		return HV_STATUS_INVALID_PARAMETER;
	switch (op) {
	case RK_SYNIC_ROUTE_CREATE:
		return synicdev_pair_create(child, rp, HV_PORT_TYPE_EVENT, vp, sint, 0, 1, HV_PARTITION_ID_SELF, rc);
	case RK_SYNIC_ROUTE_DESTROY:
		return pair_destroy(child, rp, HV_PARTITION_ID_SELF, rc);
	case RK_SYNIC_ROUTE_RAISE:
		return status(vid_call(HVCALL_SIGNAL_EVENT, 0, &ev, sizeof(ev), NULL, 0));
	case RK_SYNIC_MSG_CONN_CREATE:
		return synicdev_pair_create(child, conn, HV_PORT_TYPE_MESSAGE, vp, sint, 0, 0, child, conn);
	case RK_SYNIC_EVT_CONN_CREATE:
		/* Flag `conn` and only it, as QEMU's hyperv-testdev sets it
		 * whatever flag number the guest signals (kvm-unit-tests'
		 * hyperv_connections relies on it). */
		return synicdev_pair_create(child, conn, HV_PORT_TYPE_EVENT, vp, sint, (uint16_t)conn, 1, child, conn);
	case RK_SYNIC_MSG_CONN_DESTROY:
	case RK_SYNIC_EVT_CONN_DESTROY:
		return pair_destroy(child, conn, child, conn);
	default:
		return HV_STATUS_INVALID_PARAMETER;	/* vmms_worker_synic lets none through */
	}
}
