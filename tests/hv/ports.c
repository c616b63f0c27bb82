/* ports: ports, connections, HvCallPostMessage and HvCallSignalEvent
 * (TLFS "Inter-Partition Communication"; hv_model/port.c), exercised
 * from the root partition, which is both the port partition and the
 * connection partition: its VP 0 receives what it sends.
 *
 *   1 setup        the hypercall page; SIM and SIEF pages, SCONTROL;
 *                  SINT2 = vector 16 (messages), SINT3 = vector 19
 *                  (events); the root holds the four port privileges
 *   2 CreatePort   every refusal and its status, then a message port
 *                  and an event port
 *   3 ConnectPort  the same for connections
 *   4 PostMessage  bad inputs; a 240-byte message in SINT2's slot with
 *                  its header and payload, one interrupt; a second
 *                  waits behind it (msg_pending, no interrupt); the SINT
 *                  queue full (INSUFFICIENT_BUFFERS); EOM re-delivers,
 *                  in order, msg_pending until the last
 *   5 SignalEvent  the flag base + n set in the SIEF page, one interrupt;
 *                  the same flag again: no interrupt; cleared: again
 *   6 deletion     DeletePort breaks its connections for good; Disconnect
 *                  ends one connection; a SIM page turned off refuses
 *
 * Interrupts arrive through the exception stubs of hvt.c (vectors 16 and
 * 19 push no error code, as an interrupt does) in a short STI window. */
#include "hvt.h"
#include "hypercall.h"

#define ST(x) HV_STATUS_##x
#define BAD_PARTITION_ID 12345ull

#define MSG_SINT 2
#define MSG_VECTOR 16	/* #MF's stub */
#define EVT_SINT 3
#define EVT_VECTOR 19	/* #XM's stub */

#define MSG_PORT 0x10
#define MSG_CONN 0x20
#define EVT_PORT 0x30
#define EVT_CONN 0x40
#define EVT_BASE 8
#define EVT_COUNT 16

static uint8_t hcpage[4096] __attribute__((aligned(4096)));
static uint64_t simp, siefp, root_id;

static uint64_t call(uint16_t code)
{
	return hc_call(hc_ctl(code, 0, 0), hvt_pa(hc_in), hvt_pa(hc_out));
}

static bool expect(uint64_t rax, uint16_t want, const char *what)
{
	return report(hc_status(rax) == want && hc_reps(rax) == 0, "%s: %s (want %s)", what,
		      hc_status_name(hc_status(rax)), hc_status_name(want));
}

/* ---- input blocks ---- */

static struct hv_input_create_port *in_port(uint64_t part, uint32_t id, uint32_t type, uint32_t sint, uint32_t vp)
{
	struct hv_input_create_port *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->port_partition_id = part;
	in->port_id = id;
	in->connection_partition_id = root_id;
	in->port_info.port_type = type;
	/* Message, event and doorbell info start with target SINT and VP. */
	in->port_info.u.event_port_info.target_sint = sint;
	in->port_info.u.event_port_info.target_vp = vp;
	if (type == HV_PORT_TYPE_EVENT) {
		in->port_info.u.event_port_info.base_flag_number = EVT_BASE;
		in->port_info.u.event_port_info.flag_count = EVT_COUNT;
	}
	return in;
}

static struct hv_input_connect_port *in_connect(uint32_t conn, uint32_t port, uint32_t type)
{
	struct hv_input_connect_port *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->connection_partition_id = HV_PARTITION_ID_SELF;
	in->connection_id = conn;
	in->port_partition_id = HV_PARTITION_ID_SELF;
	in->port_id = port;
	in->connection_info.port_type = type;
	return in;
}

static struct hv_input_post_message *in_post(uint32_t conn, uint32_t type, uint32_t size, uint8_t seed)
{
	struct hv_input_post_message *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->connection_id = conn;
	in->message_type = type;
	in->payload_size = size;
	for (unsigned i = 0; i < HV_MESSAGE_PAYLOAD_BYTE_COUNT; i++)
		((uint8_t *)in->payload)[i] = (uint8_t)(seed + i);
	return in;
}

static uint64_t post(uint32_t conn, uint32_t type, uint32_t size, uint8_t seed)
{
	in_post(conn, type, size, seed);
	return call(HVCALL_POST_MESSAGE);
}

/* The fast form: RDX = HV_INPUT_SIGNAL_EVENT. */
static uint64_t signal(uint32_t conn, uint16_t flag)
{
	return hc_call(hc_ctl(HVCALL_SIGNAL_EVENT, 0, 0) | HV_HYPERCALL_FAST_BIT, conn | (uint64_t)flag << 32, 0);
}

static uint64_t delete_port(uint32_t port)
{
	struct hv_input_delete_port *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->port_partition_id = HV_PARTITION_ID_SELF;
	in->port_id = port;
	return call(HVCALL_DELETE_PORT);
}

static uint64_t disconnect(uint32_t conn, uint32_t flags)
{
	struct hv_input_disconnect_port *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->connection_partition_id = HV_PARTITION_ID_SELF;
	in->connection_id = conn;
	in->flags = flags;
	return call(HVCALL_DISCONNECT_PORT);
}

/* ---- 1: setup ---- */

static bool setup(void)
{
	struct cpuid_regs r = cpuid(HV_CPUID_FEATURES, 0);
	const uint32_t want = HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_CREATE_PORT | HV_CONNECT_PORT;
	int f;

	report((r.ebx & want) == want, "CPUID 0x40000003 EBX 0x%x: PostMessages, SignalEvents, CreatePort, "
	       "ConnectPort", r.ebx);
	if (!report(hc_enable(hvt_pa(hcpage), HC_GUEST_OS_ID), "hypercall page at 0x%lx",
		    (unsigned long)hvt_pa(hcpage)))
		return false;
	if (hc_status(hc_call(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hvt_pa(hc_out))) != ST(SUCCESS))
		return report(false, "GetPartitionId");
	memcpy(&root_id, hc_out, 8);
	simp = hvt_alloc(1, HVT_PAGE);
	siefp = hvt_alloc(1, HVT_PAGE);
	f = wrmsr_safe(HV_X64_MSR_SIMP, simp | HV_SYNIC_SIMP_ENABLE);
	f |= wrmsr_safe(HV_X64_MSR_SIEFP, siefp | HV_SYNIC_SIEFP_ENABLE);
	f |= wrmsr_safe(HV_X64_MSR_SINT(MSG_SINT), MSG_VECTOR);
	f |= wrmsr_safe(HV_X64_MSR_SINT(EVT_SINT), EVT_VECTOR);
	f |= wrmsr_safe(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	return report(f == HVT_VEC_NONE, "root %lu: SIM page 0x%lx, SIEF page 0x%lx, SINT%u vector %u, SINT%u "
		      "vector %u, SynIC on", (unsigned long)root_id, (unsigned long)simp, (unsigned long)siefp,
		      MSG_SINT, MSG_VECTOR, EVT_SINT, EVT_VECTOR);
}

/* ---- 2, 3: CreatePort and ConnectPort ---- */

/* A child partition left uninitialized: a partition in the wrong state. */
static uint64_t uninitialized_child(void)
{
	uint64_t page = hvt_alloc(1, HVT_PAGE), pfn = page / HVT_PAGE, id = 0;
	struct hv_input_create_partition *cp = (void *)hc_in;
	struct hv_input_deposit_memory *dm = (void *)hc_in;

	/* Its state comes out of the root's pool: one page deposited first. */
	memset(hc_in, 0, 64);
	dm->partition_id = HV_PARTITION_ID_SELF;
	memcpy(hc_in + sizeof(*dm), &pfn, 8);
	hc_call(hc_ctl(HVCALL_DEPOSIT_MEMORY, 1, 0), hvt_pa(hc_in), hvt_pa(hc_out));
	memset(cp, 0, sizeof(*cp));
	cp->compatibility_version = HV_COMPATIBILITY_21_H2;
	if (hc_status(call(HVCALL_CREATE_PARTITION)) == ST(SUCCESS))
		memcpy(&id, hc_out, 8);
	return id;
}

static void create_ports(void)
{
	uint64_t x = uninitialized_child();
	struct hv_input_create_port *in;

	report(x != 0, "partition X created and left uninitialized (id %lu)", (unsigned long)x);
	in_port(BAD_PARTITION_ID, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARTITION_ID), "CreatePort in partition 12345 (none)");
	in_port(x, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARTITION_STATE), "CreatePort in X (not initialized)");
	in = in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	in->connection_partition_id = BAD_PARTITION_ID;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARTITION_ID), "CreatePort for connection partition 12345");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT | 0x01000000, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PORT_ID), "CreatePort with port id bit 24 (reserved)");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MONITOR, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(FEATURE_UNAVAILABLE), "CreatePort of a monitor port (not offered)");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_DOORBELL, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(FEATURE_UNAVAILABLE), "CreatePort of a doorbell port (not offered)");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, 9, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort of port type 9 (none)");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, HV_SYNIC_SINT_COUNT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort targeting SINT16");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 1);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_VP_INDEX), "CreatePort targeting VP 1 (the root has one)");
	in = in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	in->port_vtl = 1;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort at VTL 1");
	in = in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	in->padding = 1;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort with ReservedZ0 set");
	in = in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	in->port_info.u.message_port_info.rsvd_z = 1;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort with the message info's RsvdZ set");
	in = in_port(HV_PARTITION_ID_SELF, EVT_PORT, HV_PORT_TYPE_EVENT, EVT_SINT, 0);
	in->port_info.u.event_port_info.base_flag_number = HV_EVENT_FLAGS_COUNT - 8;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort of event flags 2040-2055 (past 2047)");
	in = in_port(HV_PARTITION_ID_SELF, EVT_PORT, HV_PORT_TYPE_EVENT, EVT_SINT, 0);
	in->port_info.u.event_port_info.flag_count = 0;
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PARAMETER), "CreatePort of an event port with no flags");

	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(SUCCESS), "CreatePort: message port 0x10 -> root VP 0, SINT2");
	in_port(root_id, MSG_PORT, HV_PORT_TYPE_EVENT, EVT_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(INVALID_PORT_ID), "CreatePort 0x10 again (the id is taken)");
	in_port(HV_PARTITION_ID_SELF, EVT_PORT, HV_PORT_TYPE_EVENT, EVT_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(SUCCESS), "CreatePort: event port 0x30 -> root VP 0, SINT3, flags 8-23");
	/* A port only X may connect to. */
	in = in_port(HV_PARTITION_ID_SELF, 0x11, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	in->connection_partition_id = x;
	expect(call(HVCALL_CREATE_PORT), ST(SUCCESS), "CreatePort: message port 0x11 for connections from X");

	/* ConnectPort. */
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE)->connection_partition_id = BAD_PARTITION_ID;
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARTITION_ID), "ConnectPort for partition 12345");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE)->connection_partition_id = x;
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARTITION_STATE), "ConnectPort for X (not initialized)");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE)->port_partition_id = BAD_PARTITION_ID;
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARTITION_ID), "ConnectPort to a port of partition 12345");
	in_connect(MSG_CONN, 0x77, HV_PORT_TYPE_MESSAGE);
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PORT_ID), "ConnectPort to port 0x77 (none)");
	in_connect(MSG_CONN | 0x80000000u, MSG_PORT, HV_PORT_TYPE_MESSAGE);
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_CONNECTION_ID), "ConnectPort with connection id bit 31");
	in_connect(MSG_CONN, 0x11, HV_PORT_TYPE_MESSAGE);
	expect(call(HVCALL_CONNECT_PORT), ST(ACCESS_DENIED), "ConnectPort to port 0x11 (for X, not the root)");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_EVENT);
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARAMETER), "ConnectPort as an event connection to a message port");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE)->connection_vtl = 1;
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARAMETER), "ConnectPort at VTL 1");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE)->connection_info.u.message_connection_info.rsvd_z = 1;
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_PARAMETER), "ConnectPort with the connection info's RsvdZ set");
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE);
	expect(call(HVCALL_CONNECT_PORT), ST(SUCCESS), "ConnectPort: connection 0x20 -> port 0x10");
	in_connect(MSG_CONN, EVT_PORT, HV_PORT_TYPE_EVENT);
	expect(call(HVCALL_CONNECT_PORT), ST(INVALID_CONNECTION_ID), "ConnectPort 0x20 again (the id is taken)");
	in_connect(EVT_CONN, EVT_PORT, HV_PORT_TYPE_EVENT);
	expect(call(HVCALL_CONNECT_PORT), ST(SUCCESS), "ConnectPort: connection 0x40 -> event port 0x30");
}

/* ---- 4: PostMessage ---- */

static volatile struct hv_message *slot(void)
{
	return (volatile struct hv_message *)hvt_va(simp) + MSG_SINT;
}

static bool payload_is(volatile struct hv_message *m, unsigned size, uint8_t seed)
{
	for (unsigned i = 0; i < size; i++)
		if (((volatile uint8_t *)m->payload)[i] != (uint8_t)(seed + i))
			return false;
	return true;
}

static void post_messages(void)
{
	volatile struct hv_message *m = slot();
	unsigned queued = 0;
	uint64_t rax;
	int vec;

	expect(post(MSG_CONN, 0, 8, 0), ST(INVALID_PARAMETER), "PostMessage of type 0 (HvMessageTypeNone)");
	expect(post(MSG_CONN, HVMSG_TIMER_EXPIRED, 8, 0), ST(INVALID_PARAMETER),
	       "PostMessage of type 0x80000010 (the hypervisor's)");
	expect(post(MSG_CONN, 1, HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1, 0), ST(INVALID_PARAMETER),
	       "PostMessage of 241 bytes");
	in_post(MSG_CONN, 1, 8, 0)->reserved = 1;
	expect(call(HVCALL_POST_MESSAGE), ST(INVALID_PARAMETER), "PostMessage with its RsvdZ set");
	expect(post(0x99, 1, 8, 0), ST(INVALID_CONNECTION_ID), "PostMessage on connection 0x99 (none)");
	expect(post(EVT_CONN, 1, 8, 0), ST(INVALID_CONNECTION_ID), "PostMessage on event connection 0x40");
	report(m->header.message_type == HVMSG_NONE && hvt_interrupt_window() == HVT_VEC_NONE,
	       "nothing arrived from the refused calls");

	expect(post(MSG_CONN, 0x1234, HV_MESSAGE_PAYLOAD_BYTE_COUNT, 7), ST(SUCCESS),
	       "PostMessage 0x1234, 240 bytes, on 0x20");
	report(m->header.message_type == 0x1234 && m->header.payload_size == HV_MESSAGE_PAYLOAD_BYTE_COUNT &&
		       m->header.message_flags == 0 && m->header.sender == MSG_PORT && payload_is(m, 240, 7),
	       "SINT2's slot: type 0x%x, %u bytes, flags %u, sender (port id) 0x%lx, payload %s", m->header.message_type,
	       m->header.payload_size, m->header.message_flags, (unsigned long)m->header.sender,
	       payload_is(m, 240, 7) ? "as sent" : "WRONG");
	vec = hvt_interrupt_window();
	report(vec == MSG_VECTOR, "the delivery raised SINT2's vector (%d, want %d)", vec, MSG_VECTOR);
	vec = hvt_interrupt_window();
	report(vec == HVT_VEC_NONE, "once (then %d)", vec);

	/* The slot is busy: the next ones wait in SINT2's queue. */
	expect(post(MSG_CONN, 0x1235, 8, 0x40), ST(SUCCESS), "PostMessage 0x1235 while the slot is busy");
	vec = hvt_interrupt_window();
	report(m->header.message_type == 0x1234 && (m->header.message_flags & HV_MESSAGE_FLAG_PENDING) &&
		       vec == HVT_VEC_NONE,
	       "the slot keeps 0x%x, msg_pending %u, no interrupt (%d)", m->header.message_type,
	       m->header.message_flags & HV_MESSAGE_FLAG_PENDING, vec);
	queued = 1;
	while ((rax = post(MSG_CONN, 0x1235 + queued, 8, (uint8_t)(0x40 + queued))) == ST(SUCCESS) && queued < 16)
		queued++;
	/* hv_model's queue: HV_SYNIC_SINT_QUEUE (4) messages a SINT. */
	report(queued == 4 && hc_status(rax) == ST(INSUFFICIENT_BUFFERS),
	       "SINT2's queue took %u messages, then %s (want 4, INSUFFICIENT_BUFFERS)", queued,
	       hc_status_name(hc_status(rax)));

	/* Each EOM after freeing the slot brings the next, in order. */
	for (unsigned k = 0; k < queued; k++) {
		uint8_t flags;

		m->header.message_type = HVMSG_NONE;
		wrmsr(HV_X64_MSR_EOM, 0);
		flags = m->header.message_flags;
		vec = hvt_interrupt_window();
		report(m->header.message_type == 0x1235 + k && m->header.payload_size == 8 &&
			       payload_is(m, 8, (uint8_t)(0x40 + k)) &&
			       (flags & HV_MESSAGE_FLAG_PENDING) == (k + 1 < queued ? 1 : 0) && vec == MSG_VECTOR,
		       "EOM %u: slot 0x%x (want 0x%x), msg_pending %u, vector %d", k + 1, m->header.message_type,
		       0x1235 + k, flags & HV_MESSAGE_FLAG_PENDING, vec);
	}
	m->header.message_type = HVMSG_NONE;
	wrmsr(HV_X64_MSR_EOM, 0);
	report(m->header.message_type == HVMSG_NONE && hvt_interrupt_window() == HVT_VEC_NONE,
	       "the queue is empty: EOM delivers nothing");
}

/* ---- 5: SignalEvent ---- */

static bool flag_set(unsigned flag)
{
	volatile uint8_t *f = (volatile uint8_t *)hvt_va(siefp) + EVT_SINT * HV_EVENT_FLAGS_BYTE_COUNT;

	return f[flag / 8] & (1u << (flag % 8));
}

static unsigned flags_set(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT * HV_EVENT_FLAGS_COUNT; i++)
		n += (((volatile uint8_t *)hvt_va(siefp))[i / 8] >> (i % 8)) & 1;
	return n;
}

static void signal_events(void)
{
	struct hv_input_signal_event *in = (void *)hc_in;
	int vec;

	expect(signal(EVT_CONN, EVT_COUNT), ST(INVALID_PARAMETER), "SignalEvent flag 16 of a 16-flag port");
	expect(signal(0x99, 0), ST(INVALID_CONNECTION_ID), "SignalEvent on connection 0x99 (none)");
	expect(signal(MSG_CONN, 0), ST(INVALID_CONNECTION_ID), "SignalEvent on message connection 0x20");
	memset(in, 0, sizeof(*in));
	in->connection_id = EVT_CONN;
	in->rsvd_z = 1;
	expect(call(HVCALL_SIGNAL_EVENT), ST(INVALID_PARAMETER), "SignalEvent (memory form) with its RsvdZ set");
	report(flags_set() == 0 && hvt_interrupt_window() == HVT_VEC_NONE, "no flag set by the refused calls");

	expect(signal(EVT_CONN, 3), ST(SUCCESS), "SignalEvent flag 3 on 0x40");
	vec = hvt_interrupt_window();
	report(flag_set(EVT_BASE + 3) && flags_set() == 1 && vec == EVT_VECTOR,
	       "SINT3's flag 11 (base 8 + 3) set, %u flag(s) in all, vector %d (want %d)", flags_set(), vec,
	       EVT_VECTOR);
	expect(signal(EVT_CONN, 3), ST(SUCCESS), "SignalEvent flag 3 again");
	vec = hvt_interrupt_window();
	report(vec == HVT_VEC_NONE, "a flag already set raises nothing (%d)", vec);
	((volatile uint8_t *)hvt_va(siefp))[EVT_SINT * HV_EVENT_FLAGS_BYTE_COUNT + (EVT_BASE + 3) / 8] = 0;
	memset(in, 0, sizeof(*in));
	in->connection_id = EVT_CONN;
	in->flag_number = 3;
	expect(call(HVCALL_SIGNAL_EVENT), ST(SUCCESS), "after clearing it, SignalEvent flag 3 (memory form)");
	vec = hvt_interrupt_window();
	report(flag_set(EVT_BASE + 3) && vec == EVT_VECTOR, "set again, vector %d", vec);
	((volatile uint8_t *)hvt_va(siefp))[EVT_SINT * HV_EVENT_FLAGS_BYTE_COUNT + (EVT_BASE + 3) / 8] = 0;
}

/* ---- 6: deletion ---- */

static void deletion(void)
{
	expect(delete_port(0x77), ST(INVALID_PORT_ID), "DeletePort 0x77 (none)");
	((struct hv_input_delete_port *)hc_in)->reserved = 1;
	expect(call(HVCALL_DELETE_PORT), ST(INVALID_PARAMETER), "DeletePort with its reserved field set");
	expect(delete_port(MSG_PORT), ST(SUCCESS), "DeletePort 0x10");
	expect(post(MSG_CONN, 1, 8, 0), ST(INVALID_CONNECTION_ID), "PostMessage on 0x20, whose port is gone");
	expect(disconnect(MSG_CONN, 0), ST(INVALID_CONNECTION_ID), "DisconnectPort 0x20 (went with its port)");
	expect(delete_port(MSG_PORT), ST(INVALID_PORT_ID), "DeletePort 0x10 again");
	in_port(HV_PARTITION_ID_SELF, MSG_PORT, HV_PORT_TYPE_MESSAGE, MSG_SINT, 0);
	expect(call(HVCALL_CREATE_PORT), ST(SUCCESS), "CreatePort 0x10 anew");
	expect(post(MSG_CONN, 1, 8, 0), ST(INVALID_CONNECTION_ID), "0x20 does not come back with a new port 0x10");
	report(slot()->header.message_type == HVMSG_NONE, "nothing was delivered");

	expect(disconnect(EVT_CONN, HV_DISCONNECT_PORT_IS_DOORBELL), ST(INVALID_PARAMETER),
	       "DisconnectPort 0x40 as a doorbell");
	expect(disconnect(EVT_CONN, 0), ST(SUCCESS), "DisconnectPort 0x40");
	expect(signal(EVT_CONN, 0), ST(INVALID_CONNECTION_ID), "SignalEvent on 0x40 after it");
	in_connect(EVT_CONN, EVT_PORT, HV_PORT_TYPE_EVENT);
	expect(call(HVCALL_CONNECT_PORT), ST(SUCCESS), "ConnectPort 0x40 again (the port is still there)");
	expect(signal(EVT_CONN, 0), ST(SUCCESS), "SignalEvent on it");
	report(flag_set(EVT_BASE) && hvt_interrupt_window() == EVT_VECTOR, "flag 8 set, vector %d", EVT_VECTOR);

	/* A target that cannot take a message: its SIM page off. */
	in_connect(MSG_CONN, MSG_PORT, HV_PORT_TYPE_MESSAGE);
	expect(call(HVCALL_CONNECT_PORT), ST(SUCCESS), "ConnectPort 0x20 -> the new port 0x10");
	wrmsr(HV_X64_MSR_SIMP, simp);
	expect(post(MSG_CONN, 1, 8, 0), ST(INSUFFICIENT_BUFFERS), "PostMessage with the target's SIM page off");
	wrmsr(HV_X64_MSR_SIMP, simp | HV_SYNIC_SIMP_ENABLE);
	expect(post(MSG_CONN, 1, 8, 0), ST(SUCCESS), "and with it on again");
	expect(hc_call(hc_ctl(HVCALL_DELETE_PORT, 0, 0) | HV_HYPERCALL_FAST_BIT, HV_PARTITION_ID_SELF, EVT_PORT),
	       ST(SUCCESS), "DeletePort 0x30 (fast form)");
	expect(signal(EVT_CONN, 0), ST(INVALID_CONNECTION_ID), "SignalEvent on 0x40, whose port is gone");
}

void hvt_main(const struct hv_bootinfo *bi)
{
	(void)bi;
	printf("--- 1: setup ---\n");
	if (!setup())
		return;
	printf("--- 2, 3: CreatePort, ConnectPort ---\n");
	create_ports();
	printf("--- 4: PostMessage ---\n");
	post_messages();
	printf("--- 5: SignalEvent ---\n");
	signal_events();
	printf("--- 6: deletion ---\n");
	deletion();
}
