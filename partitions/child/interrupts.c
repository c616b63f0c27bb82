/* enlightened.elf takes synthetic interrupts while its workload runs
 * (README.md "Synthetic interrupts"): an IDT of its own, the SynIC's SIM
 * page, and three sources, each on a vector of its own:
 *
 *   STIMER0  periodic, direct mode, vector 0x40 [T "Synthetic Timer
 *            Configuration Register"]: the vector is injected as it is
 *   STIMER1  periodic, message mode on SINT1 (vector 0x41): an
 *            HvMessageTypeTimerExpired message in SINT1's slot
 *   root     CHILD_ROOT_MSG_SINT (3, vector 0x42): the messages the root
 *            posts when the mailbox asks (childboot.h CHILD_ROOT_MSG_*)
 *   events   only with the SynIC test device (docs/hypervisor.md "SynIC
 *            test device"): an event connection to SINT6 (vector 0x43)
 *            and the child's own SignalEvents on it, before the workload
 *
 * A message handler reads its slot, frees it (message type None) and
 * writes EOM every time [T "SynIC Message Flags": EOM is needed only with
 * msg_pending; writing it always is allowed and gives hvsim an end for
 * every message].  Every handler ends with an EOI through
 * HV_X64_MSR_EOI: the child's virtual APIC keeps the vector in service
 * until then.  The handlers count and check what they find; the checks
 * are logged at the end, out of interrupt context. */
#include <hv/tlfs.h>

#include "child.h"

#define DIRECT_VECTOR 0x40
#define TMSG_SINT 1
#define TMSG_VECTOR 0x41
#define ROOT_VECTOR 0x42
#define DIRECT_PERIOD 1000	/* 100 ns units: 100 us */
#define TMSG_PERIOD 2000	/* 200 us */
#define ROOT_MESSAGES 4
#define ROOT_WAIT 500000	/* 50 ms of reference time for the root's messages */
#define EVT_SINT 6
#define EVT_VECTOR 0x43
#define EVT_CONN 9		/* clear of synicdev.c's connections 5 and 7 */
#define EVT_FLAG EVT_CONN	/* the device's one flag for the connection (SignalEvent flag number 0) */
#define EVT_SIGNALS 3

/* SDM Vol. 3A 6.14.1: a 64-bit interrupt gate, present, DPL 0. */
struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define GATE_INTERRUPT 0x8e
#define CHILD_CODE_SELECTOR 0x08	/* childboot.h: the root's GDT */

static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t simp[4096] __attribute__((aligned(4096)));
static uint8_t siefp[4096] __attribute__((aligned(4096)));

static struct {
	bool on;			/* child_interrupts_start enabled them */
	uint64_t t0, t1;		/* reference time: timers started, stopped */
	uint32_t direct, tmsg, root, eoms, events;
	uint32_t tmsg_bad, root_bad, spurious;
	uint64_t last_exp;		/* STIMER1's last ExpirationTime */
	uint64_t late_max;		/* the longest DeliveryTime - ExpirationTime */
} st;

struct child_intr_frame;

static volatile struct hv_message *slot(unsigned sint)
{
	return (volatile struct hv_message *)simp + sint;
}

/* The slot's payload (hv_message is packed; the payload is 8-aligned). */
static const volatile void *payload(volatile struct hv_message *m)
{
	return (const volatile uint8_t *)m + sizeof(struct hv_message_header);
}

/* The virtual APIC (docs/hypervisor.md "Virtual APIC") keeps each vector
 * in service until its EOI, through the enlightened EOI MSR. */
static void eoi(void)
{
	wrmsr(HV_X64_MSR_EOI, 0);
}

/* The slot is the guest's while its type is not None: free it, EOM, and
 * end the interrupt. */
static void release(volatile struct hv_message *m)
{
	m->header.message_type = HVMSG_NONE;
	asm volatile("" ::: "memory");
	wrmsr(HV_X64_MSR_EOM, 0);
	st.eoms++;
	eoi();
}

__attribute__((interrupt)) static void direct_isr(struct child_intr_frame *f)
{
	st.direct++;
	eoi();
}

__attribute__((interrupt)) static void tmsg_isr(struct child_intr_frame *f)
{
	volatile struct hv_message *m = slot(TMSG_SINT);
	const volatile struct hv_timer_message_payload *p = payload(m);
	uint64_t exp, del;

	if (m->header.message_type != HVMSG_TIMER_EXPIRED) {
		st.spurious++;
		release(m);
		return;
	}
	exp = p->expiration_time;
	del = p->delivery_time;
	/* Expirations stay on the timer's grid, a missed one included
	 * [T "Periodic Timers"]; the message never comes early. */
	if (p->timer_index != 1 || del < exp || (st.tmsg && (exp <= st.last_exp || (exp - st.last_exp) % TMSG_PERIOD)))
		st.tmsg_bad++;
	if (del - exp > st.late_max && del >= exp)
		st.late_max = del - exp;
	st.last_exp = exp;
	st.tmsg++;
	release(m);
}

__attribute__((interrupt)) static void root_isr(struct child_intr_frame *f)
{
	volatile struct hv_message *m = slot(CHILD_ROOT_MSG_SINT);
	const volatile struct child_root_msg *p = payload(m);

	if (m->header.message_type == HVMSG_NONE) {
		st.spurious++;
		release(m);
		return;
	}
	/* In order, from the root's port, what was asked for. */
	if (m->header.message_type != CHILD_ROOT_MSG_TYPE || m->header.sender != CHILD_ROOT_MSG_PORT ||
	    m->header.payload_size < sizeof(struct child_root_msg) || p->seq != st.root || p->count != ROOT_MESSAGES)
		st.root_bad++;
	st.root++;
	release(m);
}

/* TLFS "SynIC Event Flags": the guest clears the flag (atomically, as
 * the hypervisor may set others in the same byte) to be raised again. */
__attribute__((interrupt)) static void evt_isr(struct child_intr_frame *f)
{
	uint8_t *b = siefp + EVT_SINT * HV_EVENT_FLAGS_BYTE_COUNT + EVT_FLAG / 8;
	uint8_t bit = (uint8_t)(1u << (EVT_FLAG % 8));

	if (__atomic_fetch_and(b, (uint8_t)~bit, __ATOMIC_SEQ_CST) & bit)
		st.events++;
	else
		st.spurious++;
	eoi();
}

/* SignalEvent on an event connection to our own SINT6: each one raises
 * the SINT (the flag is clear again after each interrupt), taken as the
 * call returns, interrupts being on. */
static void events(void)
{
	uint32_t st_conn = child_synic_cmd(EVT_CONN, 6, 0, EVT_SINT), ok = 0;

	if (!child_check(st_conn == HV_STATUS_SUCCESS, "event connection %u to SINT%u: status 0x%x", EVT_CONN,
			 EVT_SINT, st_conn))
		return;
	for (unsigned i = 0; i < EVT_SIGNALS; i++)
		ok += (uint16_t)child_signal_event(EVT_CONN, 0) == HV_STATUS_SUCCESS;
	child_check(ok == EVT_SIGNALS && st.events == EVT_SIGNALS,
		    "event flags: %u SignalEvents succeeded, %u event interrupts (SINT%u vector 0x%x), want %u",
		    ok, st.events, EVT_SINT, EVT_VECTOR, EVT_SIGNALS);
	child_synic_cmd(EVT_CONN, 7, 0, EVT_SINT);
}

static void set_gate(unsigned vec, void (*fn)(struct child_intr_frame *))
{
	uint64_t a = (uint64_t)(uintptr_t)fn;

	idt[vec] = (struct idt_gate){ .off0 = (uint16_t)a, .sel = CHILD_CODE_SELECTOR, .type = GATE_INTERRUPT,
				      .off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32) };
}

static uint64_t ref_time(void)
{
	return rdmsr(HV_X64_MSR_TIME_REF_COUNT);
}

void child_interrupts_start(uint32_t msr_privileges, bool test_device)
{
	const uint32_t need = HV_MSR_SYNIC_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE | HV_MSR_TIME_REF_COUNT_AVAILABLE;
	uint32_t edx = cpuid(HV_CPUID_FEATURES, 0).edx;
	struct idtr r;

	st = (typeof(st)){ 0 };
	if (!child_check((msr_privileges & need) == need && (edx & HV_STIMER_DIRECT_MODE_AVAILABLE),
			 "synthetic interrupts: SynIC, synthetic timer and reference counter MSRs, direct mode "
			 "(CPUID 0x40000003 EAX 0x%x EDX 0x%x)", msr_privileges, edx))
		return;
	set_gate(DIRECT_VECTOR, direct_isr);
	set_gate(TMSG_VECTOR, tmsg_isr);
	set_gate(ROOT_VECTOR, root_isr);
	set_gate(EVT_VECTOR, evt_isr);
	r = (struct idtr){ .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };
	asm volatile("lidt %0" : : "m"(r));

	/* TLFS "SynIC Message Flags" order: page and SINTs, then the
	 * SynIC on; the timers last. */
	wrmsr(HV_X64_MSR_SIMP, (uint64_t)(uintptr_t)simp | HV_SYNIC_SIMP_ENABLE);
	wrmsr(HV_X64_MSR_SINT(TMSG_SINT), TMSG_VECTOR);
	wrmsr(HV_X64_MSR_SINT(CHILD_ROOT_MSG_SINT), ROOT_VECTOR);
	if (test_device) {
		wrmsr(HV_X64_MSR_SIEFP, (uint64_t)(uintptr_t)siefp | HV_SYNIC_SIEFP_ENABLE);
		wrmsr(HV_X64_MSR_SINT(EVT_SINT), EVT_VECTOR);
	}
	wrmsr(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	st.t0 = ref_time();
	wrmsr(HV_X64_MSR_STIMER_COUNT(0), DIRECT_PERIOD);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_DIRECT_MODE |
					       (uint64_t)DIRECT_VECTOR << HV_STIMER_APIC_VECTOR_SHIFT);
	wrmsr(HV_X64_MSR_STIMER_COUNT(1), TMSG_PERIOD);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(1), HV_STIMER_ENABLE | HV_STIMER_PERIODIC |
					       (uint64_t)TMSG_SINT << HV_STIMER_SINTX_SHIFT);
	child_request_root_messages(ROOT_MESSAGES);
	child_info("interrupts on: STIMER0 direct vector 0x%x every %u us, STIMER1 SINT%u vector 0x%x every %u us, "
		   "%u root messages on SINT%u vector 0x%x", DIRECT_VECTOR, DIRECT_PERIOD / 10, TMSG_SINT, TMSG_VECTOR,
		   TMSG_PERIOD / 10, ROOT_MESSAGES, CHILD_ROOT_MSG_SINT, ROOT_VECTOR);
	st.on = true;
	asm volatile("sti" : : : "memory");
	if (test_device)
		events();
}

void child_interrupts_finish(void)
{
	uint64_t deadline, us, direct_max, tmsg_max;

	if (!st.on)
		return;
	/* The root posts one message each time it gets the LP: wait for
	 * them, halted between interrupts (STI's shadow covers the HLT, so
	 * no interrupt is taken between the two). */
	deadline = ref_time() + ROOT_WAIT;
	while (*(volatile uint32_t *)&st.root < ROOT_MESSAGES && ref_time() < deadline)
		asm volatile("sti; hlt; cli" : : : "memory");
	asm volatile("cli" : : : "memory");
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), 0);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(1), 0);
	st.t1 = ref_time();
	us = (st.t1 - st.t0) / 10;
	/* Never early: at most one expiration a period (pending ones merge
	 * into one interrupt, so fewer is fine). */
	direct_max = (st.t1 - st.t0) / DIRECT_PERIOD + 1;
	tmsg_max = (st.t1 - st.t0) / TMSG_PERIOD + 1;
	child_check(st.direct >= 1 && st.direct <= direct_max,
		    "synthetic interrupts: %u direct timer (vector 0x%x), %u timer messages (SINT%u vector 0x%x), "
		    "%u root messages (SINT%u vector 0x%x), %u EOMs in %lu us",
		    st.direct, DIRECT_VECTOR, st.tmsg, TMSG_SINT, TMSG_VECTOR, st.root, CHILD_ROOT_MSG_SINT, ROOT_VECTOR,
		    st.eoms, (unsigned long)us);
	child_check(st.tmsg >= 1 && st.tmsg <= tmsg_max && !st.tmsg_bad,
		    "STIMER1 messages: %u (at most %lu), ExpirationTime on the %u us grid and DeliveryTime not "
		    "before it (%u bad), latest %lu us late", st.tmsg, (unsigned long)tmsg_max, TMSG_PERIOD / 10,
		    st.tmsg_bad, (unsigned long)(st.late_max / 10));
	child_check(st.root == ROOT_MESSAGES && !st.root_bad,
		    "root messages: %u of %u, in order, type 0x%x from port 0x%x (%u bad)", st.root, ROOT_MESSAGES,
		    CHILD_ROOT_MSG_TYPE, CHILD_ROOT_MSG_PORT, st.root_bad);
	child_check(st.eoms == st.tmsg + st.root && st.spurious == 0,
		    "one EOM a message: %u EOMs, %u spurious interrupts", st.eoms, st.spurious);
}
