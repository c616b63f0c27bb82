/* The SynIC test device as a freestanding guest uses it (docs/hypervisor.md
 * "SynIC test device"; childboot.h CHILD_SYNIC_TEST_PORT): enlightened.elf
 * runs this when its boot page says the worker offers the device.  The
 * kernel takes no interrupts, so every SINT it uses polls: messages and
 * flags arrive in the SIM and SIEF pages and raise nothing; that a SINT
 * fires once per clear flag is checked from the root (tests/hv/ports.c).
 *
 *   route (ctl 1-3)     SINT5 of VP 0: raising it sets flag 0 of SINT5;
 *                       destroyed, raising is refused
 *   message (ctl 4-5)   connection 5 -> SINT2: PostMessage lands in the
 *                       slot with the port id as sender; msg_pending and
 *                       EOM; the SINT's queue full; destroyed, refused
 *   event (ctl 6-7)     connection 7 -> SINT4: SignalEvent(7, 0) sets
 *                       flag 7 (the device's one flag for it), flag 1
 *                       is refused; destroyed, refused
 *   refusals            an unknown ctl, an id taken, a SINT above 15, a
 *                       VP the child lacks; the child's own CreatePort
 *                       and DeletePort (no privilege) */
#include <hv/tlfs.h>

#include "child.h"

#define ROUTE_SINT 5
#define MSG_SINT 2
#define MSG_CONN 5
#define EVT_SINT 4
#define EVT_CONN 7

static uint8_t simp[4096] __attribute__((aligned(4096)));
static uint8_t siefp[4096] __attribute__((aligned(4096)));
static uint8_t in_page[4096] __attribute__((aligned(4096)));

static inline uint64_t gpa_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* One command; the status the device reads back afterwards. */
uint32_t child_synic_cmd(uint32_t conn, uint32_t ctl, uint32_t vp, uint32_t sint)
{
	outl(CHILD_SYNIC_TEST_PORT, CHILD_SYNIC_TEST_CMD(conn, ctl, vp, sint));
	return inl(CHILD_SYNIC_TEST_PORT);
}

static bool cmd_expect(uint32_t conn, uint32_t ctl, uint32_t vp, uint32_t sint, uint32_t want, const char *what)
{
	uint32_t st = child_synic_cmd(conn, ctl, vp, sint);

	return child_check(st == want, "test device ctl %u (conn %u, VP %u, SINT %u), %s: status 0x%x %s (want 0x%x)",
			   ctl, conn, vp, sint, what, st, child_status_name((uint16_t)st), want);
}

static volatile struct hv_message *slot(unsigned sint)
{
	return (volatile struct hv_message *)simp + sint;
}

static bool flag(unsigned sint, unsigned n)
{
	return ((volatile uint8_t *)siefp)[sint * HV_EVENT_FLAGS_BYTE_COUNT + n / 8] & (1u << (n % 8));
}

static unsigned flags_set(void)
{
	unsigned c = 0;

	for (unsigned i = 0; i < sizeof(siefp); i++)
		c += (unsigned)__builtin_popcount(((volatile uint8_t *)siefp)[i]);
	return c;
}

static void clear_flag(unsigned sint, unsigned n)
{
	((volatile uint8_t *)siefp)[sint * HV_EVENT_FLAGS_BYTE_COUNT + n / 8] &= (uint8_t)~(1u << (n % 8));
}

static uint64_t post(uint32_t conn, uint32_t type, uint32_t size, uint8_t seed)
{
	struct hv_input_post_message *in = (void *)in_page;

	memset(in, 0, sizeof(*in));
	in->connection_id = conn;
	in->message_type = type;
	in->payload_size = size;
	for (unsigned i = 0; i < size; i++)
		((uint8_t *)in->payload)[i] = (uint8_t)(seed + i);
	return child_hv_call(HVCALL_POST_MESSAGE, gpa_of(in_page), 0);
}

uint64_t child_signal_event(uint32_t conn, uint32_t n)
{
	return child_hv_call(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, conn | (uint64_t)n << 32, 0);
}

static bool payload_is(volatile struct hv_message *m, unsigned size, uint8_t seed)
{
	for (unsigned i = 0; i < size; i++)
		if (((volatile uint8_t *)m->payload)[i] != (uint8_t)(seed + i))
			return false;
	return true;
}

static void routes(void)
{
	cmd_expect(0, 9, 0, 0, CHILD_SYNIC_TEST_UNKNOWN, "a ctl the device does not know");
	cmd_expect(0, 1, 0, ROUTE_SINT, HV_STATUS_SUCCESS, "route created (CreatePort + ConnectPort by the root)");
	cmd_expect(0, 1, 0, ROUTE_SINT, HV_STATUS_INVALID_PORT_ID, "the same route again");
	cmd_expect(0, 3, 0, ROUTE_SINT, HV_STATUS_SUCCESS, "raised (the root's SignalEvent)");
	child_check(flag(ROUTE_SINT, 0) && flags_set() == 1, "SINT5's flag 0 is set, %u flag(s) in all", flags_set());
	cmd_expect(0, 3, 0, ROUTE_SINT, HV_STATUS_SUCCESS, "raised again (the flag stays set)");
	clear_flag(ROUTE_SINT, 0);
	cmd_expect(0, 2, 0, ROUTE_SINT, HV_STATUS_SUCCESS, "route destroyed (DisconnectPort + DeletePort)");
	cmd_expect(0, 3, 0, ROUTE_SINT, HV_STATUS_INVALID_CONNECTION_ID, "raising a destroyed route");
	child_check(flags_set() == 0, "no flag was set by it (%u)", flags_set());
	cmd_expect(0, 2, 0, ROUTE_SINT, HV_STATUS_INVALID_CONNECTION_ID, "destroying it again");
	cmd_expect(0, 1, 0, HV_SYNIC_SINT_COUNT, HV_STATUS_INVALID_PARAMETER, "a route to SINT16");
	cmd_expect(0, 1, 200, ROUTE_SINT, HV_STATUS_INVALID_VP_INDEX, "a route to VP 200 (none)");
}

static void messages(void)
{
	volatile struct hv_message *m = slot(MSG_SINT);
	unsigned queued = 0;
	uint64_t rax;

	cmd_expect(MSG_CONN, 4, 0, MSG_SINT, HV_STATUS_SUCCESS, "message connection created");
	child_hv_expect(post(MSG_CONN, 0x42, 16, 0x10), HV_STATUS_SUCCESS, "PostMessage 0x42, 16 bytes, on 5");
	child_check(m->header.message_type == 0x42 && m->header.payload_size == 16 && m->header.sender == MSG_CONN &&
			    m->header.message_flags == 0 && payload_is(m, 16, 0x10),
		    "SINT2's slot: type 0x%x, %u bytes, sender (port id) %lu, flags %u, payload %s",
		    m->header.message_type, m->header.payload_size, (unsigned long)m->header.sender,
		    m->header.message_flags, payload_is(m, 16, 0x10) ? "as sent" : "WRONG");
	while ((uint16_t)(rax = post(MSG_CONN, 0x43 + queued, 8, (uint8_t)(0x20 + queued))) == HV_STATUS_SUCCESS &&
	       queued < 16)
		queued++;
	child_check(queued == 4 && (uint16_t)rax == HV_STATUS_INSUFFICIENT_BUFFERS && m->header.message_type == 0x42 &&
			    (m->header.message_flags & HV_MESSAGE_FLAG_PENDING),
		    "with the slot busy 4 more wait (%u), then %s; the slot keeps 0x%x with msg_pending %u", queued,
		    child_status_name((uint16_t)rax), m->header.message_type,
		    m->header.message_flags & HV_MESSAGE_FLAG_PENDING);
	for (unsigned k = 0; k < queued; k++) {
		m->header.message_type = HVMSG_NONE;
		wrmsr(HV_X64_MSR_EOM, 0);
		child_check(m->header.message_type == 0x43 + k && payload_is(m, 8, (uint8_t)(0x20 + k)) &&
				    (m->header.message_flags & HV_MESSAGE_FLAG_PENDING) == (k + 1 < queued),
			    "EOM %u: slot 0x%x (want 0x%x), msg_pending %u", k + 1, m->header.message_type, 0x43 + k,
			    m->header.message_flags & HV_MESSAGE_FLAG_PENDING);
	}
	m->header.message_type = HVMSG_NONE;
	cmd_expect(MSG_CONN, 4, 0, MSG_SINT, HV_STATUS_INVALID_PORT_ID, "the same connection again");
	cmd_expect(MSG_CONN, 6, 0, EVT_SINT, HV_STATUS_INVALID_PORT_ID, "an event connection with id 5 too");
	cmd_expect(MSG_CONN, 5, 0, MSG_SINT, HV_STATUS_SUCCESS, "message connection destroyed");
	child_hv_expect(post(MSG_CONN, 0x42, 16, 0), HV_STATUS_INVALID_CONNECTION_ID, "PostMessage on 5 after it");
	cmd_expect(MSG_CONN, 5, 0, MSG_SINT, HV_STATUS_INVALID_CONNECTION_ID, "destroying it again");
	child_check(m->header.message_type == HVMSG_NONE, "nothing more arrived in SINT2");
}

static void events(void)
{
	cmd_expect(EVT_CONN, 6, 0, EVT_SINT, HV_STATUS_SUCCESS, "event connection created (its flag: 7)");
	child_hv_expect(child_signal_event(EVT_CONN, 0), HV_STATUS_SUCCESS, "SignalEvent(7, flag number 0)");
	child_check(flag(EVT_SINT, EVT_CONN) && flags_set() == 1, "SINT4's flag 7 is set, %u flag(s) in all",
		    flags_set());
	child_hv_expect(child_signal_event(EVT_CONN, 1), HV_STATUS_INVALID_PARAMETER,
			"SignalEvent(7, flag number 1): beyond the port's one flag");
	child_hv_expect(post(EVT_CONN, 0x42, 8, 0), HV_STATUS_INVALID_CONNECTION_ID, "PostMessage on event connection 7");
	clear_flag(EVT_SINT, EVT_CONN);
	cmd_expect(EVT_CONN, 7, 0, EVT_SINT, HV_STATUS_SUCCESS, "event connection destroyed");
	child_hv_expect(child_signal_event(EVT_CONN, 0), HV_STATUS_INVALID_CONNECTION_ID, "SignalEvent(7) after it");
	child_check(flags_set() == 0, "no flag set since (%u)", flags_set());
}

/* What the child may not do itself: ports belong to its parent. */
static void own_calls(void)
{
	struct hv_input_delete_port *dp = (void *)in_page;

	memset(in_page, 0, sizeof(struct hv_input_create_port));
	child_hv_expect(child_hv_call(HVCALL_CREATE_PORT, gpa_of(in_page), 0), HV_STATUS_ACCESS_DENIED,
			"its own HvCallCreatePort (no CreatePort privilege)");
	memset(dp, 0, sizeof(*dp));
	dp->port_partition_id = HV_PARTITION_ID_SELF;
	dp->port_id = MSG_CONN;
	child_hv_expect(child_hv_call(HVCALL_DELETE_PORT, gpa_of(in_page), 0), HV_STATUS_ACCESS_DENIED,
			"its own HvCallDeletePort");
}

void child_synic_device(uint32_t msr_privileges)
{
	uint32_t ebx = cpuid(HV_CPUID_FEATURES, 0).ebx;

	if (!child_check((msr_privileges & HV_MSR_SYNIC_AVAILABLE) && (ebx & HV_POST_MESSAGES) &&
				 (ebx & HV_SIGNAL_EVENTS),
			 "SynIC test device: SynIC MSRs, PostMessages and SignalEvents available (EAX 0x%x EBX 0x%x)",
			 msr_privileges, ebx))
		return;
	wrmsr(HV_X64_MSR_SIMP, gpa_of(simp) | HV_SYNIC_SIMP_ENABLE);
	wrmsr(HV_X64_MSR_SIEFP, gpa_of(siefp) | HV_SYNIC_SIEFP_ENABLE);
	wrmsr(HV_X64_MSR_SINT(MSG_SINT), HV_SYNIC_SINT_POLLING);
	wrmsr(HV_X64_MSR_SINT(EVT_SINT), HV_SYNIC_SINT_POLLING);
	wrmsr(HV_X64_MSR_SINT(ROUTE_SINT), HV_SYNIC_SINT_POLLING);
	wrmsr(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	child_info("SynIC: SIM page 0x%lx, SIEF page 0x%lx, SINT2, 4, 5 polling", (unsigned long)gpa_of(simp),
		   (unsigned long)gpa_of(siefp));
	routes();
	messages();
	events();
	own_calls();
}
