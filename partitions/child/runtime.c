/* The child kernels' runtime: the mailbox log, checks, the boot page and
 * entry-state checks, and the end (include/hv/childboot.h).
 *
 * The mailbox is the only way out: the children have no device (a port
 * access would stop them) and take no interrupt.  Every line goes to
 * mailbox.log as "PASS: ...", "FAIL: ..." or "INFO: ...", each ended by
 * a newline; the root prints them prefixed by the child's name.  Nothing
 * here relies on .bss being zero: child_start() initialises what it uses. */
#include "child.h"

_Static_assert(CHILD_ASM_STACK_TOP == CHILD_STACK_TOP, "child.h's stack top is childboot.h's");
_Static_assert(CHILD_ASM_STACK_BOTTOM + CHILD_ASM_STACK_MIN < CHILD_STACK_TOP, "stack area");
_Static_assert(sizeof(struct hv_child_mailbox) <= 4096, "the mailbox is one page");
_Static_assert(sizeof(struct hv_child_boot) <= CHILD_MAILBOX - CHILD_BOOT, "the boot page");

/* Bytes at the end of the log kept for child_finish()'s summary, so that a
 * log filled by checks still says how the child ended. */
#define CHILD_LOG_RESERVE 128

/* The entry state childboot.h promises (SDM Vol. 3A 2.5 for the bits). */
#define CHILD_CR0_WANT ((1ull << 31) | (1ull << 18) | (1ull << 16) | (1ull << 5) | \
			(1ull << 4) | (1ull << 1) | (1ull << 0))	/* PG AM WP NE ET MP PE */
#define CHILD_CR4_WANT ((1ull << 5) | (1ull << 9) | (1ull << 10))	/* PAE OSFXSR OSXMMEXCPT */
#define CHILD_CR3_ADDR_MASK 0x000ffffffffff000ull	/* CR3 63:52 and 11:0 are not the address */
#define CHILD_SEL_CODE 0x08
#define CHILD_SEL_DATA 0x10
#define CHILD_SEL_TSS 0x18

extern const char __image_end[];	/* link.ld */

static struct hv_child_mailbox *const mb = (struct hv_child_mailbox *)(uintptr_t)CHILD_MAILBOX;

static struct {
	uint32_t iterations;
	uint32_t checks, failed, hypercalls;
	uint32_t dropped;		/* lines that did not fit in the log */
} child;

/* ---- the log ---- */

static void log_put(const char *s, size_t n, size_t limit)
{
	uint32_t len = mb->log_len;

	if (len > limit || n > limit - len) {
		child.dropped++;
		return;
	}
	memcpy(mb->log + len, s, n);
	mb->log_len = len + (uint32_t)n;
}

static void log_vline(const char *prefix, size_t limit, const char *fmt, va_list ap)
{
	char line[CHILD_LINE_MAX];
	size_t n = strlen(prefix), room;
	int len;

	memcpy(line, prefix, n);
	room = sizeof(line) - n - 1;	/* the newline's place kept */
	len = fw_vsnprintf(line + n, room, fmt, ap);
	if (len > 0)
		n += (size_t)len < room - 1 ? (size_t)len : room - 1;
	line[n++] = '\n';
	log_put(line, n, limit);
}

bool child_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	child.checks++;
	if (!ok)
		child.failed++;
	va_start(ap, fmt);
	log_vline(ok ? "PASS: " : "FAIL: ", CHILD_LOG_BYTES - CHILD_LOG_RESERVE, fmt, ap);
	va_end(ap);
	return ok;
}

void child_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("INFO: ", CHILD_LOG_BYTES - CHILD_LOG_RESERVE, fmt, ap);
	va_end(ap);
}

static void child_summary(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("INFO: ", CHILD_LOG_BYTES, fmt, ap);
	va_end(ap);
}

void child_count_hypercall(void)
{
	child.hypercalls++;
}

/* A hypercall as Linux's hv_do_hypercall makes it [T "Hypercall Inputs"]:
 * CALL to the start of the page with RCX = the input value, RDX = input
 * GPA (fast: the first input qword), R8 = output GPA (fast: the second);
 * the page returns with a near RET and the result value in RAX.  Only RAX
 * is written for simple calls [T "Volatile Registers"]; RCX, RDX and R8
 * are declared changed anyway, and R9-R11 as a function call's would be. */
uint64_t child_hv_call_at(const void *page, uint64_t control, uint64_t input, uint64_t output)
{
	uint64_t rax;

	child_count_hypercall();
	/* R8 is loaded inside the asm: a register variable would not survive
	 * the function call above (GCC manual, "Specifying Registers for
	 * Local Variables"). */
	asm volatile("movq %[out], %%r8\n\tcall *%[page]"
		     : "=a"(rax), "+c"(control), "+d"(input)
		     : [out] "r"(output), [page] "r"(page)
		     : "cc", "memory", "r8", "r9", "r10", "r11");
	return rax;
}

void child_set_cycles(uint64_t cycles)
{
	mb->cycles = cycles;
}

void child_request_root_messages(uint32_t n)
{
	*(volatile uint32_t *)&mb->root_messages = n;
}

uint32_t child_iterations(void)
{
	return child.iterations;
}

/* ---- start ---- */

static void child_claim_mailbox(void)
{
	memset(&child, 0, sizeof(child));
	child.iterations = CHILD_DEFAULT_ITERATIONS;
	memset(mb, 0, sizeof(*mb));
	mb->magic = CHILD_MAILBOX_MAGIC;
}

/* The boot page is the root's; it is read field by field, and the name
 * is copied with anything unprintable replaced, so the log stays lines. */
static bool child_check_boot(const struct hv_child_boot *boot, enum child_image image)
{
	uint64_t image_end = (uint64_t)(uintptr_t)__image_end;
	char name[sizeof(boot->name) + 1];
	uint64_t magic, memory;
	uint32_t version, flags, vps, iterations;
	bool enl;

	if ((uint64_t)(uintptr_t)boot != CHILD_BOOT)
		return child_check(false, "boot page: RDI = %p, want 0x%llx", (const void *)boot,
				   CHILD_BOOT);
	magic = boot->magic;
	version = boot->version;
	if (magic != CHILD_BOOT_MAGIC || version != CHILD_BOOT_VERSION)
		return child_check(false, "boot page: magic 0x%lx version %u, want 0x%llx version %u",
				   (unsigned long)magic, version, CHILD_BOOT_MAGIC, CHILD_BOOT_VERSION);
	flags = boot->flags;
	memory = boot->memory_bytes;
	vps = boot->vp_count;
	iterations = boot->workload_iterations;
	for (size_t i = 0; i < sizeof(boot->name); i++) {
		char c = boot->name[i];

		name[i] = c == 0 || (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	name[sizeof(boot->name)] = 0;

	if (iterations)
		child.iterations = iterations;
	child_check(memory >= CHILD_MIN_MEMORY && memory >= image_end && vps >= 1,
		    "boot page: \"%s\", %lu KiB (min %llu, image end 0x%lx), %u VP(s), "
		    "%u iterations%s", name, (unsigned long)(memory >> 10),
		    CHILD_MIN_MEMORY >> 10, (unsigned long)image_end, vps, child.iterations,
		    iterations ? "" : " (default)");
	enl = flags & CHILD_FLAG_ENLIGHTENED;
	return child_check(enl == (image == CHILD_IMAGE_ENLIGHTENED),
			   "boot flags 0x%x: the configuration asks for an %senlightened child, "
			   "this image is %senlightened", flags, enl ? "" : "un",
			   image == CHILD_IMAGE_ENLIGHTENED ? "" : "un");
}

/* Appends " what value (want w)" to a message being built. */
struct child_msg {
	char text[96];
	size_t len;
	unsigned bad;
};

static void msg_mismatch(struct child_msg *m, const char *what, uint64_t got, uint64_t want)
{
	int n;

	if (got == want)
		return;
	m->bad++;
	if (m->len >= sizeof(m->text) - 1)
		return;
	n = fw_snprintf(m->text + m->len, sizeof(m->text) - m->len, " %s 0x%lx (want 0x%lx)",
			what, (unsigned long)got, (unsigned long)want);
	if (n > 0)
		m->len += (size_t)n < sizeof(m->text) - m->len ? (size_t)n : sizeof(m->text) - m->len - 1;
}

/* childboot.h's entry state, as far as CPL 0 can read it without an MSR:
 * a mismatch is the root's (or the hypervisor's) bug, so each is named. */
static void child_check_entry(uint64_t entry_rsp, uint64_t entry_rflags)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr;
	uint16_t cs, ds, es, ss, tr;
	struct child_msg m = { .len = 0, .bad = 0 };

	asm volatile("mov %%cs, %0; mov %%ds, %1; mov %%es, %2; mov %%ss, %3; str %4"
		     : "=r"(cs), "=r"(ds), "=r"(es), "=r"(ss), "=r"(tr));
	asm volatile("sgdt %0" : "=m"(gdtr));
	m.text[0] = 0;
	msg_mismatch(&m, "RSP", entry_rsp, CHILD_STACK_TOP);
	msg_mismatch(&m, "RFLAGS.IF", entry_rflags & X86_RFLAGS_IF, 0);
	msg_mismatch(&m, "CR0", read_cr0(), CHILD_CR0_WANT);
	msg_mismatch(&m, "CR3", read_cr3() & CHILD_CR3_ADDR_MASK, CHILD_PAGE_TABLES);
	msg_mismatch(&m, "CR4", read_cr4(), CHILD_CR4_WANT);
	msg_mismatch(&m, "CS", cs, CHILD_SEL_CODE);
	msg_mismatch(&m, "DS", ds, CHILD_SEL_DATA);
	msg_mismatch(&m, "ES", es, CHILD_SEL_DATA);
	msg_mismatch(&m, "SS", ss, CHILD_SEL_DATA);
	msg_mismatch(&m, "TR", tr, CHILD_SEL_TSS);
	msg_mismatch(&m, "GDTR.base", gdtr.base, CHILD_GDT);
	if (!m.bad)
		child_check(true, "entry state: RSP, RFLAGS.IF, CR0, CR3, CR4, selectors, GDT as "
			    "childboot.h says");
	else
		child_check(false, "entry state, %u wrong:%s", m.bad, m.text);
}

void child_start(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags,
		 enum child_image image)
{
	child_claim_mailbox();
	child_check_boot(boot, image);
	child_check_entry(entry_rsp, entry_rflags);
}

/* ---- the end ---- */

void child_finish(void)
{
	child_summary("%u checks, %u failed, %u hypercalls, workload %lu cycles", child.checks,
		      child.failed, child.hypercalls, (unsigned long)mb->cycles);
	if (child.dropped)
		child_summary("%u log lines did not fit", child.dropped);
	mb->status = child.failed;
	mb->checks = child.checks;
	mb->hypercalls = child.hypercalls;
	/* `done` last: the root trusts the rest once it reads 1. */
	asm volatile("" ::: "memory");
	*(volatile uint32_t *)&mb->done = 1;
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
}

void child_bad_stack(const struct hv_child_boot *boot, uint64_t entry_rsp)
{
	(void)boot;	/* not read: the root that broke the stack contract may have broken this too */
	child_claim_mailbox();
	child_check(false, "entry stack: RSP 0x%lx, want 16-byte aligned in [0x%x, 0x%llx]",
		    (unsigned long)entry_rsp, CHILD_ASM_STACK_BOTTOM + CHILD_ASM_STACK_MIN,
		    CHILD_STACK_TOP);
	child_finish();
}
