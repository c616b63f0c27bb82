/* stimer_child.elf: synthetic time seen from an enlightened child (TLFS
 * "Timers"; docs/hypervisor.md "Synthetic time").  It is a child kernel
 * built on partitions/child's runtime (entry, mailbox, checks): the root
 * partition kernel creates it from tests/hv/stimer.yaml.in, runs it and
 * reports its mailbox; the run exits 0 only if every check passed.
 *
 * The boot page's workload_iterations is the TSC rate in MHz the
 * configuration's profile gives (the child has no other way to know it),
 * so the reference counter's rate can be checked against the TSC.
 *
 * It takes interrupts: an IDT of its own with #GP (an expected fault on
 * a WRMSR/RDMSR is counted and skipped), the SINT vector and the
 * direct-mode vector, whose handlers count and take TIME_REF_COUNT.
 * Interrupts are open only in short windows that cross a block boundary.
 * It never halts before the end: the root takes a halted child for a
 * finished one. */
#include <hv/tlfs.h>

/* partitions/child's runtime (tests/hv/child.h is hvcall_matrix's). */
#include "../../partitions/child/child.h"
#include "child_idt.h"

#define VEC_SINT 0x40		/* SINT2's vector: timer messages */
#define VEC_DIRECT 0x41		/* direct-mode timers */
#define SINT 2

/* Bounds, in 100 ns units of reference time. */
#define RATE_WINDOW_TSC_MS 2	/* the rate is measured over 2 ms of TSC */
#define RATE_SLACK 3		/* the two RDMSR exits: about 0.3 us */
#define LATE_MAX 100		/* expiry to handler: 10 us at most */
#define WAIT_MAX 50000		/* no wait lasts more than 5 ms */

static uint8_t sim_page[4096] __attribute__((aligned(4096)));
static uint8_t tsc_page[4096] __attribute__((aligned(4096)));

volatile uint32_t sint_count, direct_count;
volatile uint64_t sint_time, direct_time;	/* TIME_REF_COUNT in the last handler */

void isr_sint(void);
void isr_direct(void);

/* The timer handlers count, take TIME_REF_COUNT and EOI through
 * HV_X64_MSR_EOI (the SINT has no auto-EOI: its vector is in service
 * until then, docs/hypervisor.md "Virtual APIC"). */
asm(".text\n"
    ".macro TIMER_ISR name, count, time\n"
    "\\name:\n\t"
    "pushq %rax\n\t"
    "pushq %rcx\n\t"
    "pushq %rdx\n\t"
    "movl $0x40000020, %ecx\n\t"	/* HV_X64_MSR_TIME_REF_COUNT */
    "rdmsr\n\t"
    "shlq $32, %rdx\n\t"
    "orq %rdx, %rax\n\t"
    "movq %rax, \\time(%rip)\n\t"
    "incl \\count(%rip)\n\t"
    "movl $0x40000070, %ecx\n\t"	/* HV_X64_MSR_EOI */
    "xorl %eax, %eax\n\t"
    "xorl %edx, %edx\n\t"
    "wrmsr\n\t"
    "popq %rdx\n\t"
    "popq %rcx\n\t"
    "popq %rax\n\t"
    "iretq\n"
    ".endm\n"
    "TIMER_ISR isr_sint, sint_count, sint_time\n"
    "TIMER_ISR isr_direct, direct_count, direct_time\n");

static void idt_init(void)
{
	set_gate(CHILD_IDT_VEC_GP, isr_gp);
	set_gate(VEC_SINT, isr_sint);
	set_gate(VEC_DIRECT, isr_direct);
	idt_load();
}

static uint64_t ref_now(void)
{
	return rdmsr(HV_X64_MSR_TIME_REF_COUNT);
}

static volatile struct hv_message *slot(void)
{
	return (volatile struct hv_message *)(sim_page + SINT * HV_MESSAGE_SIZE);
}

static const volatile struct hv_timer_message_payload *slot_timer(void)
{
	return (const volatile struct hv_timer_message_payload *)slot()->payload;
}

/* Empties the slot; EOM if more waits (TLFS "SynIC Message Flags"). */
static void slot_free(void)
{
	uint8_t flags = slot()->header.message_flags;

	slot()->header.message_type = HVMSG_NONE;
	asm volatile("mfence" ::: "memory");
	if (flags & HV_MESSAGE_FLAG_PENDING)
		wrmsr(HV_X64_MSR_EOM, 0);
}

/* Spin with interrupt windows until *count moves past `from` or the
 * reference time passes `until`; true if it moved. */
static bool wait_count(volatile uint32_t *count, uint32_t from, uint64_t until)
{
	while (*count == from && ref_now() < until)
		for (int i = 0; i < 200; i++)
			window();
	return *count != from;
}

static void wait_until(uint64_t t)
{
	while (ref_now() < t)
		window();
}

static uint64_t stimer_config(unsigned sint, uint64_t flags)
{
	return flags | (uint64_t)sint << HV_STIMER_SINTX_SHIFT;
}

/* ---- the checks ---- */

static bool check_discovery(void)
{
	struct cpuid_regs r = cpuid(HV_CPUID_FEATURES, 0);
	const uint32_t need = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE |
			      HV_MSR_REFERENCE_TSC_AVAILABLE | HV_MSR_SYNIC_AVAILABLE;

	child_check((r.edx & HV_STIMER_DIRECT_MODE_AVAILABLE) != 0,
		    "CPUID 0x40000003 EDX 0x%x: direct synthetic timers available", r.edx);
	return child_check((r.eax & need) == need, "CPUID 0x40000003 EAX 0x%x: AccessPartitionReferenceCounter, "
			   "AccessSyntheticTimerRegs, AccessPartitionReferenceTsc, SynIC", r.eax);
}

/* TIME_REF_COUNT counts 100 ns units: over a TSC interval of known
 * length it advances by interval * 10 / MHz. */
static void check_ref_count(uint32_t mhz)
{
	uint64_t t0, t1, r0, r1, want, got, v = 0;

	child_check(wrmsr_gp(HV_X64_MSR_TIME_REF_COUNT, 0), "WRMSR TIME_REF_COUNT: #GP (read-only)");
	t0 = rdtsc();
	r0 = ref_now();
	while (rdtsc() - t0 < (uint64_t)RATE_WINDOW_TSC_MS * 1000 * mhz)
		;
	t1 = rdtsc();
	r1 = ref_now();
	want = (t1 - t0) * 10 / mhz;
	got = r1 - r0;
	child_check(got + RATE_SLACK >= want && got <= want + RATE_SLACK,
		    "TIME_REF_COUNT advanced %lu over %lu TSC cycles at %u MHz (want %lu +- %u: 10 MHz)",
		    (unsigned long)got, (unsigned long)(t1 - t0), mhz, (unsigned long)want, RATE_SLACK);
	bool gp = rdmsr_gp(HV_X64_MSR_TIME_REF_COUNT, &v);

	child_check(!gp && v > r1, "RDMSR TIME_REF_COUNT: no #GP, reads %lu, still counting", (unsigned long)v);
}

/* The page's formula gives what the MSR reads at the same TSC: an MSR
 * read between two RDTSCs lies between the page's values for them. */
static void check_tsc_page(void)
{
	const volatile struct hv_reference_tsc_page *pg = (const void *)tsc_page;
	uint64_t gpa = (uint64_t)(uintptr_t)tsc_page, msr, a, b, m;
	uint32_t seq;
	int64_t off;
	uint64_t scale;

	wrmsr(HV_X64_MSR_REFERENCE_TSC, gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE);
	msr = rdmsr(HV_X64_MSR_REFERENCE_TSC);
	child_check(msr == (gpa | HV_X64_MSR_TSC_REFERENCE_ENABLE), "REFERENCE_TSC reads 0x%lx (want 0x%lx)",
		    (unsigned long)msr, (unsigned long)(gpa | 1));
	seq = pg->tsc_sequence;
	scale = pg->tsc_scale;
	off = pg->tsc_offset;
	if (!child_check(seq != 0 && scale != 0, "reference TSC page: sequence %u, scale 0x%lx, offset %ld", seq,
			 (unsigned long)scale, (long)off))
		return;
	for (int i = 0; i < 3; i++) {
		uint64_t ta = rdtsc();

		m = ref_now();
		uint64_t tb = rdtsc();

		a = (uint64_t)(((unsigned __int128)ta * scale) >> 64) + (uint64_t)off;
		b = (uint64_t)(((unsigned __int128)tb * scale) >> 64) + (uint64_t)off;
		if (!child_check(a <= m && m <= b, "((TSC * TscScale) >> 64) + TscOffset brackets TIME_REF_COUNT: "
				 "%lu <= %lu <= %lu", (unsigned long)a, (unsigned long)m, (unsigned long)b))
			break;
	}
	child_check(pg->tsc_sequence == seq, "the sequence did not change (%u)", pg->tsc_sequence);
}

static void synic_init(void)
{
	wrmsr(HV_X64_MSR_SIMP, (uint64_t)(uintptr_t)sim_page | HV_SYNIC_SIMP_ENABLE);
	wrmsr(HV_X64_MSR_SINT(SINT), VEC_SINT);
	wrmsr(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
}

/* A one-shot message-mode timer: its message at the programmed time,
 * with the TLFS payload, and the timer disabled after it. */
static void check_one_shot(void)
{
	uint32_t n = sint_count;
	uint64_t due = ref_now() + 5000, cfg;
	bool got;

	wrmsr(HV_X64_MSR_STIMER_COUNT(0), due);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), stimer_config(SINT, HV_STIMER_ENABLE));
	got = wait_count(&sint_count, n, due + WAIT_MAX);
	if (!child_check(got, "one-shot timer 0 (due %lu): SINT%u interrupt", (unsigned long)due, SINT))
		return;
	child_check(sint_time >= due && sint_time - due <= LATE_MAX,
		    "one-shot: the handler ran at %lu, %ld after the due time (want 0..%u)", (unsigned long)sint_time,
		    (long)(sint_time - due), LATE_MAX);
	child_check(slot()->header.message_type == HVMSG_TIMER_EXPIRED && slot()->header.payload_size == 24 &&
			    slot_timer()->timer_index == 0 && slot_timer()->expiration_time == due &&
			    slot_timer()->delivery_time >= due && slot_timer()->delivery_time <= sint_time,
		    "one-shot: message 0x%x size %u, timer %u, expiration %lu, delivery %lu (want 0x80000010, 24, "
		    "0, %lu, due <= delivery <= handler)", slot()->header.message_type, slot()->header.payload_size,
		    slot_timer()->timer_index, (unsigned long)slot_timer()->expiration_time,
		    (unsigned long)slot_timer()->delivery_time, (unsigned long)due);
	slot_free();
	cfg = rdmsr(HV_X64_MSR_STIMER_CONFIG(0));
	child_check(!(cfg & HV_STIMER_ENABLE) && rdmsr(HV_X64_MSR_STIMER_COUNT(0)) == due,
		    "one-shot: afterwards CONFIG reads 0x%lx (enable clear), COUNT the due time", (unsigned long)cfg);
}

/* A periodic message-mode timer, enabled by writing its count
 * (AutoEnable): expirations spaced by the period; disabling stops it. */
static void check_periodic(void)
{
	const uint64_t period = 2000;
	uint64_t start, started, exp[5], del[5], cfg;
	unsigned got = 0;

	wrmsr(HV_X64_MSR_STIMER_CONFIG(1), stimer_config(SINT, HV_STIMER_PERIODIC | HV_STIMER_AUTO_ENABLE));
	start = ref_now();
	wrmsr(HV_X64_MSR_STIMER_COUNT(1), period);
	started = ref_now();	/* the first period began between the two */
	cfg = rdmsr(HV_X64_MSR_STIMER_CONFIG(1));
	child_check(cfg & HV_STIMER_ENABLE, "periodic: writing COUNT with AutoEnable set Enable (CONFIG 0x%lx)",
		    (unsigned long)cfg);
	while (got < 5 && ref_now() < start + 10 * period) {
		window();
		if (slot()->header.message_type != HVMSG_TIMER_EXPIRED)
			continue;
		exp[got] = slot_timer()->expiration_time;
		del[got++] = slot_timer()->delivery_time;
		slot_free();
	}
	wrmsr(HV_X64_MSR_STIMER_CONFIG(1), 0);
	if (!child_check(got == 5, "periodic: %u messages in 10 periods (want 5 at least)", got))
		return;
	child_check(exp[0] >= start + period && exp[0] <= started + period,
		    "periodic: the first period ends at %lu (want one period after enabling: %lu..%lu)",
		    (unsigned long)exp[0], (unsigned long)(start + period), (unsigned long)(started + period));
	for (unsigned i = 1; i < 5; i++)
		child_check(exp[i] - exp[i - 1] == period && del[i] >= exp[i] && del[i] - exp[i] <= LATE_MAX,
			    "periodic: expiration %u at +%lu from the one before (want %lu), delivered %lu later", i,
			    (unsigned long)(exp[i] - exp[i - 1]), (unsigned long)period,
			    (unsigned long)(del[i] - exp[i]));
	{
		uint32_t n = sint_count;
		uint64_t stop = ref_now();

		wait_until(stop + 3 * period);
		child_check(sint_count == n && slot()->header.message_type == HVMSG_NONE,
			    "periodic: disabled, no message in the 3 periods after");
	}
}

/* Direct mode: the vector, no message. */
static void check_direct(void)
{
	uint32_t n = direct_count;
	uint64_t due = ref_now() + 3000;
	bool got;

	wrmsr(HV_X64_MSR_STIMER_COUNT(2), due);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(2), HV_STIMER_ENABLE | HV_STIMER_DIRECT_MODE |
						   (uint64_t)VEC_DIRECT << HV_STIMER_APIC_VECTOR_SHIFT);
	got = wait_count(&direct_count, n, due + WAIT_MAX);
	child_check(got && direct_time >= due && direct_time - due <= LATE_MAX,
		    "direct timer 2 (due %lu): vector 0x%x at %lu (want due..due+%u)", (unsigned long)due,
		    VEC_DIRECT, (unsigned long)direct_time, LATE_MAX);
	child_check(slot()->header.message_type == HVMSG_NONE && !(rdmsr(HV_X64_MSR_STIMER_CONFIG(2)) & 1),
		    "direct: no message, the one-shot disabled itself");
}

/* A message that finds the slot busy: msg_pending, and delivery after
 * EOM with DeliveryTime then. */
static void check_busy_slot(void)
{
	uint32_t n = sint_count;
	uint64_t due0 = ref_now() + 2000, due1, eom;

	wrmsr(HV_X64_MSR_STIMER_COUNT(0), due0);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), stimer_config(SINT, HV_STIMER_ENABLE));
	if (!child_check(wait_count(&sint_count, n, due0 + WAIT_MAX), "busy slot: timer 0's message arrived"))
		return;
	/* Timer 0's message stays in the slot while timer 1 expires. */
	n = sint_count;
	due1 = ref_now() + 2000;
	wrmsr(HV_X64_MSR_STIMER_COUNT(1), due1);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(1), stimer_config(SINT, HV_STIMER_ENABLE));
	wait_until(due1 + 3000);
	child_check(sint_count == n && slot_timer()->timer_index == 0 &&
			    (slot()->header.message_flags & HV_MESSAGE_FLAG_PENDING),
		    "busy slot: timer 1 expired; the slot still holds timer %u's message, flags 0x%x "
		    "(want msg_pending), no interrupt", slot_timer()->timer_index, slot()->header.message_flags);
	eom = ref_now();
	slot_free();	/* msg_pending: EOM */
	wait_count(&sint_count, n, eom + WAIT_MAX);
	child_check(sint_count == n + 1 && slot()->header.message_type == HVMSG_TIMER_EXPIRED &&
			    slot_timer()->timer_index == 1 && slot_timer()->expiration_time == due1 &&
			    slot_timer()->delivery_time >= eom,
		    "after EOM: timer %u's message, expiration %lu (want %lu), delivery %lu (want >= %lu, the EOM)",
		    slot_timer()->timer_index, (unsigned long)slot_timer()->expiration_time, (unsigned long)due1,
		    (unsigned long)slot_timer()->delivery_time, (unsigned long)eom);
	slot_free();
}

/* Count 0 disables a one-shot; SINTx 0 in message mode disables it; the
 * RsvdZ bits of CONFIG are #GP. */
static void check_disable_and_reserved(void)
{
	uint32_t n = sint_count;
	uint64_t due = ref_now() + 3000, cfg;

	wrmsr(HV_X64_MSR_STIMER_COUNT(0), due);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), stimer_config(SINT, HV_STIMER_ENABLE));
	wrmsr(HV_X64_MSR_STIMER_COUNT(0), 0);
	cfg = rdmsr(HV_X64_MSR_STIMER_CONFIG(0));
	wait_until(due + 3000);
	child_check(!(cfg & HV_STIMER_ENABLE) && sint_count == n && slot()->header.message_type == HVMSG_NONE,
		    "COUNT = 0 disabled the one-shot (CONFIG 0x%lx) and it never expired", (unsigned long)cfg);

	wrmsr(HV_X64_MSR_STIMER_COUNT(0), ref_now() + 1000);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), stimer_config(0, HV_STIMER_ENABLE));
	cfg = rdmsr(HV_X64_MSR_STIMER_CONFIG(0));
	child_check(!(cfg & HV_STIMER_ENABLE), "enabling a message-mode timer with SINTx 0 leaves it disabled "
		    "(CONFIG 0x%lx)", (unsigned long)cfg);

	static const struct {
		uint64_t bits;
		const char *what;
	} rsvd[] = { { 1ull << 13, "bit 13" }, { 1ull << 15, "bit 15" }, { 1ull << 20, "bit 20" },
		     { 1ull << 63, "bit 63" } };
	for (unsigned i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++)
		child_check(wrmsr_gp(HV_X64_MSR_STIMER_CONFIG(3), rsvd[i].bits),
			    "STIMER3_CONFIG with RsvdZ %s: #GP", rsvd[i].what);
	child_check(!wrmsr_gp(HV_X64_MSR_STIMER_CONFIG(3), stimer_config(15, 0)) &&
			    rdmsr(HV_X64_MSR_STIMER_CONFIG(3)) == stimer_config(15, 0),
		    "STIMER3_CONFIG with SINTx 15 and no reserved bit: accepted, reads back");
	child_check(wrmsr_gp(HV_X64_MSR_STIMER_CONFIG(0) + 8, 0), "MSR 0x400000B8 (past STIMER3_COUNT): #GP");
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_ENLIGHTENED);
	idt_init();
	if (check_discovery()) {
		check_ref_count(boot->workload_iterations ? boot->workload_iterations : 3400);
		check_tsc_page();
		synic_init();
		check_one_shot();
		check_periodic();
		check_direct();
		check_busy_slot();
		check_disable_and_reserved();
	}
	child_finish();
}
