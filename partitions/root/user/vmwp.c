/* The root kernel's ring-3 program: the virtual machine worker process
 * (VMWP, RK_ROLE_VMWP: one per child, emulating its devices), and the
 * user half of the kernel's self-test.  The kernel runs it once per role
 * (abi.h RK_ROLE_*), with RDI = role and RSI = pid.
 *
 * RK_ROLE_MAIN checks the system-call interface from this side (results,
 * error codes for bad arguments, registers and flags across SYSCALL) and
 * measures what a user/kernel crossing costs; its exit status is its
 * number of failed checks.  RK_ROLE_YIELD exercises the scheduler and
 * address-space isolation.  The other roles do one forbidden thing each
 * and must never reach the line after it. */
#include <hv/bootinfo.h>
#include <hv/childboot.h>
#include <hv/marker.h>
#include <hv/tlfs.h>

#include "insn.h"
#include "ulib.h"

#define MEASURE_CALLS 1000
#define PLAUSIBLE_MAX 100000	/* cycles: an upper bound for sanity, not a target */

#define RFLAGS_DF (1ull << 10)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_AC (1ull << 18)
#define RFLAGS_IF (1ull << 9)

extern char _start[];

static const char hello[] = "user: hello from ring 3\n";

/* Writes that must fail, and how (abi.h: a pointer that is not readable
 * user memory is -EFAULT whatever it points at). */
struct bad_write {
	const char *what;
	uint64_t fd, buf, len;
	int64_t want;
};

static void check_write_errors(void)
{
	static char span[2 * 4096] __attribute__((aligned(4096)));
	static const char crossing[] = "user: this line crosses a page boundary\n";
	const struct bad_write bad[] = {
		{ "NULL", 1, 0, 5, -RK_EFAULT },
		{ "the kernel image", 1, RK_KERNEL_BASE, 16, -RK_EFAULT },
		{ "the last byte below the user half", 1, RK_USER_BASE - 1, 2, -RK_EFAULT },
		{ "a non-canonical address", 1, 0x0000800000000000ull, 1, -RK_EFAULT },
		{ "the upper half", 1, 0xffff800000000000ull, 8, -RK_EFAULT },
		{ "an unmapped user page", 1, RK_USER_BASE + 0x20000000ull, 8, -RK_EFAULT },
		{ "a range past the stack top", 1, RK_USER_STACK_TOP - 4, 8, -RK_EFAULT },
		{ "a range from the guard page into the stack", 1,
		  RK_USER_STACK_TOP - RK_USER_STACK_SIZE - 4, 8, -RK_EFAULT },
		{ "a range wrapping around 2^64", 1, 0xfffffffffffffff8ull, 16, -RK_EFAULT },
		{ "a length above RK_WRITE_MAX", 1, (uint64_t)(uintptr_t)hello, RK_WRITE_MAX + 1,
		  -RK_EINVAL },
		{ "fd 0", 0, (uint64_t)(uintptr_t)hello, 1, -RK_EBADF },
		{ "fd 5", 5, (uint64_t)(uintptr_t)hello, 1, -RK_EBADF },
		{ "length 0 at NULL", 1, 0, 0, 0 },
	};
	char *p = span + 4096 - 16;
	int64_t r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = u_write(bad[i].fd, (const void *)(uintptr_t)bad[i].buf, bad[i].len);
		u_report(r == bad[i].want, "write(%lu, %s 0x%lx, %lu) = %ld (want %ld)",
			 (unsigned long)bad[i].fd, bad[i].what, (unsigned long)bad[i].buf,
			 (unsigned long)bad[i].len, (long)r, (long)bad[i].want);
	}
	memcpy(p, crossing, sizeof(crossing) - 1);
	r = u_write(1, p, sizeof(crossing) - 1);
	u_report(r == (int64_t)sizeof(crossing) - 1, "write from a buffer across a page boundary = %ld",
		 (long)r);
}

static void check_call_numbers(uint32_t pid)
{
	int64_t a = u_syscall3(RK_SYS_COUNT, 0, 0, 0);
	int64_t b = u_syscall3(~0ull, 0, 0, 0);
	int64_t c = u_syscall3((1ull << 32) | RK_SYS_GETPID, 0, 0, 0);

	u_report(a == -RK_ENOSYS && b == -RK_ENOSYS && c == -RK_ENOSYS,
		 "unknown call numbers %u, 2^64-1 and 2^32+%u: %ld %ld %ld (want %d)", RK_SYS_COUNT,
		 RK_SYS_GETPID, (long)a, (long)b, (long)c, -RK_ENOSYS);
	u_report(u_getpid() == pid, "getpid() = %ld (want %u)", (long)u_getpid(), pid);
	{
		struct rk_io_request r;
		int64_t w = u_vmwp_wait(&r), k = u_vmwp_complete(0), s = u_vmwp_synic(RK_SYNIC_ROUTE_CREATE, 0, 2, 0);

		u_report(w == -RK_EINVAL && k == -RK_EINVAL && s == -RK_EINVAL,
			 "vmwp_wait, vmwp_complete and vmwp_synic from a process that is no worker: %ld %ld %ld "
			 "(want %d)", (long)w, (long)k, (long)s, -RK_EINVAL);
	}
}

static void check_registers(uint32_t pid)
{
	uint64_t in[12], out[12], r;
	unsigned same = 0;

	for (unsigned i = 0; i < 12; i++)
		in[i] = 0x1111111111111111ull * (i + 1) ^ 0x8040201008040201ull;
	r = u_regs_probe(in, out);
	for (unsigned i = 0; i < 12; i++)
		same += in[i] == out[i];
	u_report(r == pid && same == 12,
		 "SYSCALL preserved RBX RBP RDI RSI RDX R8-R10 R12-R15 and RSP: %u of 12 (result %lu)", same,
		 (unsigned long)r);
}

static void check_flags(void)
{
	uint64_t set = RFLAGS_DF | RFLAGS_AC | RFLAGS_NT;
	uint64_t after = u_flags_probe(set);

	u_report((after & (set | RFLAGS_IF)) == (set | RFLAGS_IF),
		 "RFLAGS 0x%lx after a call made with DF, AC and NT set: SYSRET restored them and IF",
		 (unsigned long)after);
}

static void check_time(void)
{
	uint64_t t0 = u_rdtsc(), k = u_get_time(), t1 = u_rdtsc();

	u_report(t0 < k && k < t1, "get_time() = %lu lies between the RDTSCs around it (%lu, %lu)",
		 (unsigned long)k, (unsigned long)t0, (unsigned long)t1);
}

static bool plausible(uint64_t c)
{
	return c > 0 && c < PLAUSIBLE_MAX;
}

/* The crossing costs (README.md, "What the numbers mean"). */
static void measure(void)
{
	uint64_t rt_min = ~0ull, rt_sum = 0, in_min = ~0ull, out_min = ~0ull, tsc_min = ~0ull;
	uint64_t y_min = ~0ull;

	for (unsigned i = 0; i < MEASURE_CALLS; i++) {
		uint64_t t0 = u_rdtsc(), t1 = u_rdtsc();

		if (t1 - t0 < tsc_min)
			tsc_min = t1 - t0;
	}
	for (unsigned i = 0; i < MEASURE_CALLS; i++) {
		uint64_t t0 = u_rdtsc(), t1;

		u_getpid();
		t1 = u_rdtsc();
		rt_sum += t1 - t0;
		if (t1 - t0 < rt_min)
			rt_min = t1 - t0;
	}
	for (unsigned i = 0; i < MEASURE_CALLS; i++) {
		uint64_t t0 = u_rdtsc(), k = u_get_time(), t1 = u_rdtsc();

		if (k - t0 < in_min)
			in_min = k - t0;
		if (t1 - k < out_min)
			out_min = t1 - k;
	}
	for (unsigned i = 0; i < MEASURE_CALLS / 10; i++) {
		uint64_t t0 = u_rdtsc(), t1;

		u_yield();
		t1 = u_rdtsc();
		if (t1 - t0 < y_min)
			y_min = t1 - t0;
	}
	u_printf("user: RDTSC back to back: min %lu cycles\n", (unsigned long)tsc_min);
	u_printf("user: syscall round trip (getpid, %u calls): min %lu cycles, mean %lu\n", MEASURE_CALLS,
		 (unsigned long)rt_min, (unsigned long)(rt_sum / MEASURE_CALLS));
	u_printf("user: ring 3 -> ring 0 (RDTSC before SYSCALL to the kernel's RDTSC): min %lu cycles\n",
		 (unsigned long)in_min);
	u_printf("user: ring 0 -> ring 3 (the kernel's RDTSC to RDTSC after SYSRET): min %lu cycles\n",
		 (unsigned long)out_min);
	u_printf("user: yield round trip, no other process (scheduler and back): min %lu cycles\n",
		 (unsigned long)y_min);
	u_report(plausible(rt_min) && plausible(in_min) && plausible(out_min) && plausible(y_min) &&
			 rt_min > tsc_min && y_min > rt_min,
		 "crossing costs plausible: 0 < getpid %lu < yield %lu < %u, legs %lu + %lu",
		 (unsigned long)rt_min, (unsigned long)y_min, PLAUSIBLE_MAX, (unsigned long)in_min,
		 (unsigned long)out_min);
}

static int role_main(uint32_t pid)
{
	uint16_t cs, ss;
	int64_t r;

	r = u_write(1, hello, sizeof(hello) - 1);
	u_report(r == (int64_t)sizeof(hello) - 1, "write(1, hello, %zu) = %ld", sizeof(hello) - 1, (long)r);
	asm volatile("movw %%cs, %0\n\tmovw %%ss, %1" : "=r"(cs), "=r"(ss));
	u_report(cs == RK_USER_CS && ss == RK_USER_DS, "running in ring 3: CS 0x%x SS 0x%x (want 0x%x 0x%x)",
		 cs, ss, RK_USER_CS, RK_USER_DS);
	check_call_numbers(pid);
	check_write_errors();
	check_registers(pid);
	check_flags();
	check_time();
	r = u_yield();
	u_report(r == 0, "yield() with no other process = %ld", (long)r);
	measure();
	return (int)u_failures();
}

/* Same address, different pages: a variable every yielder writes. */
static volatile uint64_t probe;

static int role_yield(uint32_t pid)
{
	int bad = 0;

	for (uint64_t i = 0; i < RK_YIELD_ROUNDS; i++) {
		uint64_t mine = ((uint64_t)pid << 32) | i;

		probe = mine;
		bad += u_yield() != 0;
		bad += probe != mine;
		bad += u_getpid() != pid;
	}
	u_printf("user: pid %u: %u yields, own data intact after each: %s\n", pid, RK_YIELD_ROUNDS,
		 bad ? "no" : "yes");
	return bad;
}

/* ---- the worker (VMWP): the devices of one child (childboot.h) ----
 * A 16550-like UART at COM1, enough for a polled transmitter: THR
 * collects the bytes written (lines kept for the report), LSR always
 * says the transmitter is empty, IIR says no interrupt, the divisor
 * latch, IER, LCR, MCR and the scratch register keep what is written,
 * RBR reads 0 (no input).  And the ID register: reads CHILD_VMWP_ID of
 * the child's partition id. */
#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE_TEMT 0x60
#define UART_MSR_DCD_DSR_CTS 0xb0
#define VMWP_LINES 8
#define VMWP_LINE_MAX 120

#define VMWP_CONSOLE_CHUNK 256

/* The HPET's registers (IA-PC HPET Specification 1.0a, 2.3, Table 2). */
#define HPET_CAP 0x000		/* General Capabilities and ID */
#define HPET_CONFIG 0x010	/* General Configuration */
#define HPET_STATUS 0x020	/* General Interrupt Status */
#define HPET_COUNTER 0x0f0	/* Main Counter Value */
#define HPET_TIMER0 0x100	/* Timer N Configuration and Capability at 0x100 + 0x20 N, */
#define HPET_TIMER_STRIDE 0x20	/* Comparator Value at +8, FSB Interrupt Route at +0x10 */
#define HPET_CNF_ENABLE 0x1ull		/* the counter runs (LEG_RT_CNF, bit 1, not offered) */
#define HPET_TN_INT_TYPE (1ull << 1)
#define HPET_TN_INT_ENB (1ull << 2)
#define HPET_TN_TYPE (1ull << 3)	/* periodic, where Tn_PER_INT_CAP */
#define HPET_TN_PER_INT_CAP (1ull << 4)
#define HPET_TN_SIZE_CAP (1ull << 5)	/* 64-bit comparator */
#define HPET_TN_VAL_SET (1ull << 6)
#define HPET_TN_32MODE (1ull << 8)

struct hpet {
	uint64_t config;	/* ENABLE_CNF */
	uint64_t counter;	/* stopped: the main counter; running: its value at `since` */
	uint64_t since;		/* the reference time it has run from */
	uint64_t timer[CHILD_HPET_TIMERS];	/* Tn_*_CNF bits kept */
	uint64_t comparator[CHILD_HPET_TIMERS];
};

struct vmwp {
	struct rk_io_request req;
	uint8_t regs[8];	/* IER, LCR, MCR, SCR by offset; DLL, DLM below */
	uint8_t dll, dlm;
	char lines[VMWP_LINES][VMWP_LINE_MAX + 1];
	unsigned nlines, col;
	char out[VMWP_CONSOLE_CHUNK];	/* the console child's bytes not yet written */
	unsigned nout;
	bool midline;		/* the last byte written to the console was not a newline */
	uint64_t reads, writes, bytes, id_reads, other;
	uint32_t id_returned;
	uint32_t synic_status;	/* the SynIC test device: status of the last command */
	uint64_t synic_commands;
	/* A multiboot guest's devices. */
	uint16_t fwcfg_key;	/* the selected fw_cfg item */
	uint32_t fwcfg_offset;
	uint64_t fwcfg_reads, pmtimer_reads;
	bool console;		/* the child has the run's console (HV_BOOT_PART_CONSOLE) */
	bool exit_pending;	/* the access is a write to the debug-exit port */
	uint32_t exit_value;
	/* GPAs without memory (RK_REQ_MMIO). */
	struct hpet hpet;
	uint64_t mmio_reads, mmio_writes, hpet_accesses, mmio_refused;
};

/* The console child's output goes to the run's console as it comes, a
 * line (or a chunk) at a time. */
static void console_flush(struct vmwp *w)
{
	if (w->nout) {
		u_write(1, w->out, w->nout);
		w->midline = w->out[w->nout - 1] != '\n';
	}
	w->nout = 0;
}

/* The child stopped: a line it left unfinished is ended, so what the
 * root prints next starts a line of its own. */
static void console_end(struct vmwp *w)
{
	console_flush(w);
	if (w->midline)
		u_write(1, "\n", 1);
	w->midline = false;
}

static void uart_tx(struct vmwp *w, uint8_t c)
{
	w->bytes++;
	if (w->console) {
		w->out[w->nout++] = (char)c;
		if (c == '\n' || w->nout == sizeof(w->out))
			console_flush(w);
		return;
	}
	if (w->nlines == VMWP_LINES)
		return;
	if (c == '\n' || w->col == VMWP_LINE_MAX) {
		w->lines[w->nlines][w->col] = 0;
		w->nlines++;
		w->col = 0;
		if (c == '\n')
			return;
		if (w->nlines == VMWP_LINES)
			return;
	}
	w->lines[w->nlines][w->col++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
}

/* The SynIC test device (childboot.h CHILD_SYNIC_TEST_PORT, only
 * intercepted for a child that has it): a write (conn << 24 | ctl << 16 |
 * vp << 8 | sint) is a command the kernel turns into hypercalls
 * (abi.h RK_SYS_VMWP_SYNIC); a read returns the last command's status. */
static uint64_t synic_device(struct vmwp *w, const struct rk_io_request *r)
{
	uint32_t v = (uint32_t)r->value, ctl = v >> 16 & 0xff;
	int64_t k;

	if (!r->write)
		return w->synic_status;
	w->synic_commands++;
	if (ctl < RK_SYNIC_ROUTE_CREATE || ctl > RK_SYNIC_EVT_CONN_DESTROY) {
		w->synic_status = CHILD_SYNIC_TEST_UNKNOWN;
		return 0;
	}
	k = u_vmwp_synic(ctl, v >> 8 & 0xff, v & 0xff, v >> 24);
	w->synic_status = k < 0 ? CHILD_SYNIC_TEST_UNKNOWN : (uint32_t)k;
	return 0;
}

/* QEMU's fw_cfg, traditional interface (QEMU docs/specs/fw_cfg.rst), as
 * much of it as a multiboot test kernel reads: a 16-bit write to the
 * selector picks an item and rewinds it; each 8-bit read of the data
 * port returns its next byte, 0 past the end; unknown items are empty;
 * integers little endian, the (empty) file directory's count big endian.
 * Items: signature "QEMU", ID 1 (no DMA), RAM size, CPU count and
 * maximum, file directory.  Other accesses read all ones and write
 * nothing, as on the platform's own device (sim/dev/fwcfg.c). */
#define FWCFG_SIGNATURE 0x00
#define FWCFG_ID 0x01
#define FWCFG_RAM_SIZE 0x03
#define FWCFG_NB_CPUS 0x05
#define FWCFG_MAX_CPUS 0x0f
#define FWCFG_FILE_DIR 0x19
#define FWCFG_WRITE_CHANNEL 0x4000

static uint64_t fwcfg(struct vmwp *w, const struct rk_io_request *r)
{
	uint8_t item[8] = { 0 };
	unsigned len = 0;

	if (r->port == CHILD_FWCFG_PORT && r->size == 2) {
		if (r->write) {
			w->fwcfg_key = (uint16_t)(r->value & ~FWCFG_WRITE_CHANNEL);
			w->fwcfg_offset = 0;
			return 0;
		}
		return ~0ull;
	}
	if (r->port != CHILD_FWCFG_PORT + 1 || r->size != 1 || r->write)
		return ~0ull;
	w->fwcfg_reads++;
	switch (w->fwcfg_key) {
	case FWCFG_SIGNATURE:
		memcpy(item, "QEMU", 4);
		len = 4;
		break;
	case FWCFG_ID:
		item[0] = 1;
		len = 4;
		break;
	case FWCFG_RAM_SIZE:
		for (unsigned i = 0; i < 8; i++)
			item[i] = (uint8_t)(r->memory >> (8 * i));
		len = 8;
		break;
	case FWCFG_NB_CPUS:
	case FWCFG_MAX_CPUS:
		item[0] = (uint8_t)r->vps;
		item[1] = (uint8_t)(r->vps >> 8);
		len = 2;
		break;
	case FWCFG_FILE_DIR:
		len = 4;	/* big-endian count 0 */
		break;
	}
	return w->fwcfg_offset < len ? item[w->fwcfg_offset++] : 0;
}

/* The ACPI PM timer (ACPI 6.5 4.8.3.3): a free-running 32-bit counter
 * (FADT TMR_VAL_EXT) at 3.579545 MHz, here the child partition's
 * reference time (TLFS "Partition Reference Counter") when the worker
 * took the access; read-only. */
static uint64_t pmtimer(struct vmwp *w, const struct rk_io_request *r)
{
	uint32_t v = (uint32_t)(r->ref_time * CHILD_PMTIMER_HZ / 10000000u);
	unsigned off = r->port - CHILD_PMTIMER_PORT;

	if (r->write)
		return 0;
	w->pmtimer_reads++;
	return v >> (8 * off);
}

/* One access: the value read (ignored for a write). */
static uint64_t device(struct vmwp *w, const struct rk_io_request *r)
{
	unsigned reg = r->port - CHILD_COM1_PORT;
	bool dlab = w->regs[3] & UART_LCR_DLAB;
	uint8_t v = (uint8_t)r->value;

	if (r->write)
		w->writes++;
	else
		w->reads++;
	if (r->port == CHILD_VMWP_ID_PORT && !r->write) {
		w->id_reads++;
		w->id_returned = CHILD_VMWP_ID(r->partition);
		return w->id_returned;
	}
	if (r->port == CHILD_SYNIC_TEST_PORT && r->size == 4)
		return synic_device(w, r);
	if ((r->flags & RK_CHILD_MULTIBOOT) && r->port >= CHILD_DEBUG_EXIT_PORT && r->port < CHILD_DEBUG_EXIT_PORT + 4) {
		/* isa-debug-exit: any write ends the child with the value as
		 * written; reads find nothing. */
		if (!r->write)
			return ~0ull;
		w->exit_pending = true;
		w->exit_value = (uint32_t)r->value;
		return 0;
	}
	if ((r->flags & RK_CHILD_MULTIBOOT) && r->port >= CHILD_FWCFG_PORT &&
	    r->port < CHILD_FWCFG_PORT + CHILD_FWCFG_PORTS)
		return fwcfg(w, r);
	if ((r->flags & RK_CHILD_MULTIBOOT) && r->port >= CHILD_PMTIMER_PORT && r->port < CHILD_PMTIMER_PORT + 4)
		return pmtimer(w, r);
	if (r->port < CHILD_COM1_PORT || reg >= CHILD_COM1_PORTS || r->size != 1) {
		w->other++;	/* nothing there: reads all ones */
		return ~0ull;
	}
	if (r->write) {
		if (reg == 0 && dlab)
			w->dll = v;
		else if (reg == 0)
			uart_tx(w, v);
		else if (reg == 1 && dlab)
			w->dlm = v;
		else if (reg != 2 && reg != 5 && reg != 6)	/* FCR, LSR and MSR: nothing kept */
			w->regs[reg] = v;
		return 0;
	}
	switch (reg) {
	case 0:
		return dlab ? w->dll : 0;
	case 1:
		return dlab ? w->dlm : w->regs[1];
	case 2:
		return 0x01;	/* IIR: no interrupt pending */
	case 5:
		return UART_LSR_THRE_TEMT;
	case 6:
		return UART_MSR_DCD_DSR_CTS;
	default:
		return w->regs[reg];
	}
}

/* ---- the HPET: IA-PC HPET Specification 1.0a, at CHILD_HPET_BASE ----
 * Three comparators and a 64-bit main counter at 10 MHz, the child's
 * view of the root's reference counter (TLFS "Partition Reference
 * Counter", 100 ns, CHILD_HPET_PERIOD_FS) as the worker takes each
 * access: it counts while ENABLE_CNF is set and keeps its value while
 * not, when a write sets it.  No legacy replacement route (LEG_RT_CAP 0)
 * and no interrupt routes at all (Tn_INT_ROUTE_CAP 0, no FSB delivery):
 * the comparators keep what is written and never fire, so the interrupt
 * status stays 0.  Timer 0 can be set periodic (Tn_PER_INT_CAP), as on
 * PC chipsets.  Every register reads and writes in any size; reserved
 * bytes read 0 and ignore writes. */
static uint64_t hpet_counter(const struct hpet *h, uint64_t now)
{
	return (h->config & HPET_CNF_ENABLE) ? h->counter + (now - h->since) : h->counter;
}

static uint64_t hpet_timer_caps(unsigned n)
{
	return HPET_TN_SIZE_CAP | (n == 0 ? HPET_TN_PER_INT_CAP : 0);
}

/* The 64-bit register at `off` (8-aligned) at reference time `now`. */
static uint64_t hpet_read(const struct hpet *h, unsigned off, uint64_t now)
{
	unsigned n = (off - HPET_TIMER0) / HPET_TIMER_STRIDE;

	switch (off) {
	case HPET_CAP:
		return (uint64_t)CHILD_HPET_PERIOD_FS << 32 | CHILD_HPET_ID;
	case HPET_CONFIG:
		return h->config;
	case HPET_COUNTER:
		return hpet_counter(h, now);
	}
	if (off < HPET_TIMER0 || n >= CHILD_HPET_TIMERS)
		return 0;	/* the interrupt status (never set) and reserved space */
	switch ((off - HPET_TIMER0) % HPET_TIMER_STRIDE) {
	case 0:
		return h->timer[n] | hpet_timer_caps(n);
	case 8:
		return h->comparator[n];
	default:
		return 0;	/* FSB route: no FSB delivery */
	}
}

static void hpet_write(struct hpet *h, unsigned off, uint64_t v, uint64_t now)
{
	unsigned n = (off - HPET_TIMER0) / HPET_TIMER_STRIDE;

	switch (off) {
	case HPET_CONFIG:
		/* Halting keeps the count; starting counts from it (2.3.5). */
		if ((v ^ h->config) & HPET_CNF_ENABLE) {
			h->counter = hpet_counter(h, now);
			h->since = now;
		}
		h->config = v & HPET_CNF_ENABLE;
		return;
	case HPET_COUNTER:
		/* Written only while halted (2.3.7: writes to a running
		 * counter are undefined; here they do nothing). */
		if (!(h->config & HPET_CNF_ENABLE))
			h->counter = v;
		return;
	}
	if (off < HPET_TIMER0 || n >= CHILD_HPET_TIMERS)
		return;
	switch ((off - HPET_TIMER0) % HPET_TIMER_STRIDE) {
	case 0:
		/* VAL_SET is write-only and clears itself; the route fields
		 * keep nothing, since no route is capable (2.3.8). */
		h->timer[n] = v & (HPET_TN_INT_TYPE | HPET_TN_INT_ENB | HPET_TN_32MODE |
				   (hpet_timer_caps(n) & HPET_TN_PER_INT_CAP ? HPET_TN_TYPE : 0));
		return;
	case 8:
		h->comparator[n] = (h->timer[n] & HPET_TN_32MODE) ? (uint32_t)v : v;
		return;
	}
}

/* `size` bytes at offset `off` of the register space: a read returns
 * them, a write (`v`) merges them into the registers they fall in. */
static uint64_t hpet_access(struct hpet *h, unsigned off, unsigned size, bool write, uint64_t v, uint64_t now)
{
	uint64_t got = 0;

	for (unsigned i = 0; i < size;) {
		unsigned reg = (off + i) & ~7u, sh = (off + i) & 7u, n = 8 - sh < size - i ? 8 - sh : size - i;
		uint64_t mask = (n == 8 ? ~0ull : (1ull << (8 * n)) - 1) << (8 * sh), old = hpet_read(h, reg, now);

		if (write)
			hpet_write(h, reg, (old & ~mask) | ((v >> (8 * i)) << (8 * sh) & mask), now);
		else
			got |= ((old & mask) >> (8 * sh)) << (8 * i);
		i += n;
	}
	return got;
}

/* ---- MMIO: an access to a GPA the child has no memory at ----
 * The hypervisor's HvMessageTypeUnmappedGpa message carries the
 * instruction's bytes; the worker decodes them (hv_model/insn.c, built
 * into this program too: MOV, MOVZX, MOVSX), checks that the instruction
 * is the access the message reports (direction, size, and its operand's
 * linear address against the message's), reads the registers it needs,
 * lets the device at the GPA answer and writes back the destination
 * register and RIP past the instruction, which also resumes the VP.
 * What it cannot do that way is a guest crash: the reason, or NULL. */
static const char *mmio(struct vmwp *w, const struct rk_io_request *r, uint64_t id)
{
	unsigned bits = hv_insn_code_bits(r->exec_state & HV_X64_VP_EXEC_CR0_PE, r->rflags & (1ull << 17),
					  r->exec_state & HV_X64_VP_EXEC_EFER_LMA, r->cs_attributes);
	union hv_register_value v[RK_VMWP_REGS];
	uint32_t names[RK_VMWP_REGS], out[2];
	uint64_t gpr[16] = { 0 }, seg_base = 0, ea, value = 0, next, vals[2];
	unsigned n = 0, m = 0, slot_reg = ~0u, slot_seg = ~0u;
	struct hv_insn d;
	int st;

	if (r->access == HV_INTERCEPT_ACCESS_EXECUTE)
		return "an instruction fetch";
	if ((r->exec_state & HV_X64_VP_EXEC_INTERRUPTION_PENDING) || !(r->access_info & HV_X64_MEMORY_ACCESS_GVA_GPA_VALID))
		return "an access by event delivery or to a paging structure";
	st = hv_insn_decode(r->insn, r->insn_count, bits, &d);
	if (st == HV_INSN_SHORT)
		return "an instruction whose bytes the hypervisor could not fetch";
	if (st != HV_INSN_OK)
		return st == HV_INSN_LOCK ? "a LOCK-prefixed MOV (#UD)" : "an instruction other than MOV, MOVZX, MOVSX";
	if (d.store != (r->access == HV_INTERCEPT_ACCESS_WRITE))
		return "an access that is not the one of the instruction at RIP";
	if (r->gpa < CHILD_HPET_BASE || r->gpa + d.size > CHILD_HPET_BASE + CHILD_HPET_SIZE)
		return "an access where no device is";

	/* The registers the instruction reads: its register operand (a
	 * store's source; an 8- or 16-bit load keeps the rest of its
	 * destination), the address's base and index, and the segment's
	 * base where it can be other than 0 (SDM Vol. 1 3.4.2.1). */
	if (d.reg != HV_INSN_NO_REG && (d.store || d.reg_size < 4)) {
		slot_reg = n;
		names[n++] = HV_X64_REGISTER_RAX + d.reg;
	}
	if (d.base != HV_INSN_NO_REG)
		names[n++] = HV_X64_REGISTER_RAX + d.base;
	if (d.index != HV_INSN_NO_REG)
		names[n++] = HV_X64_REGISTER_RAX + d.index;
	if (bits < 64 || d.seg == HV_SEG_FS || d.seg == HV_SEG_GS) {
		slot_seg = n;
		names[n++] = HV_X64_REGISTER_ES + d.seg;
	}
	if (n && u_vmwp_get_regs(names, n, v))
		return "an access whose registers could not be read";
	for (unsigned i = 0; i < n; i++)
		if (i == slot_seg)
			seg_base = v[i].segment.base;
		else
			gpr[names[i] - HV_X64_REGISTER_RAX] = v[i].reg64;
	next = r->rip + d.len;
	ea = hv_insn_ea(&d, gpr, next) + seg_base;
	if (bits < 64) {
		ea &= 0xffffffffull;
		next &= bits == 16 ? 0xffffull : 0xffffffffull;
	}
	if ((r->access_info & HV_X64_MEMORY_ACCESS_GVA_VALID) && ea != r->gva)
		return "an access that is not the one of the instruction at RIP";

	w->hpet_accesses++;
	if (d.store) {
		w->mmio_writes++;
		hpet_access(&w->hpet, (unsigned)(r->gpa - CHILD_HPET_BASE), d.size, true,
			    hv_insn_store_value(&d, slot_reg != ~0u ? gpr[d.reg] : 0), r->ref_time);
	} else {
		w->mmio_reads++;
		value = hpet_access(&w->hpet, (unsigned)(r->gpa - CHILD_HPET_BASE), d.size, false, 0, r->ref_time);
		out[m] = HV_X64_REGISTER_RAX + d.reg;
		vals[m++] = hv_insn_load(&d, gpr[d.reg], value);
	}
	out[m] = HV_X64_REGISTER_RIP;
	vals[m++] = next;
	HV_MARKER(HV_MARK_WORKER_DONE, id);
	return u_vmwp_resume(out, vals, m) ? "an access whose completion the hypervisor refused" : NULL;
}

static int role_vmwp(void)
{
	static struct vmwp w;
	int64_t k;
	int bad = 0;

	for (;;) {
		uint64_t id, value;

		k = u_vmwp_wait(&w.req);
		w.console = (w.req.flags & HV_BOOT_PART_CONSOLE) != 0;
		if (k)
			break;
		id = w.req.partition << 32 | w.req.vp;
		HV_MARKER(HV_MARK_WORKER_START, id);
		if (w.req.kind == RK_REQ_MMIO) {
			const char *why = mmio(&w, &w.req, id);

			if (!why)
				continue;
			/* As a worker reports its guest's crash: the child
			 * stops, the root and the other children go on.  A
			 * console child's unfinished line ends first. */
			console_end(&w);
			u_printf("FAIL: vmwp[%s]: VP %u: %s at GPA 0x%lx, RIP 0x%lx: the child is stopped\n",
				 w.req.child, w.req.vp, why, (unsigned long)w.req.gpa, (unsigned long)w.req.rip);
			w.mmio_refused++;
			if (u_vmwp_crash())
				bad++;
			continue;
		}
		value = device(&w, &w.req);
		HV_MARKER(HV_MARK_WORKER_DONE, id);
		if (w.exit_pending) {
			w.exit_pending = false;
			console_flush(&w);
			if (u_vmwp_exit(w.exit_value))
				bad++;
			continue;
		}
		if (u_vmwp_complete(value)) {
			bad++;
			break;
		}
	}
	if (k != RK_VMWP_STOPPED)
		bad++;
	console_end(&w);
	if (w.console)
		return bad;	/* its output was the run's; the VMMS reports the rest */
	for (unsigned i = 0; i < w.nlines; i++)
		u_printf("vmwp[%s]: serial: %s\n", w.req.child, w.lines[i]);
	if (w.col)
		u_printf("vmwp[%s]: serial (no newline): %.*s\n", w.req.child, (int)w.col, w.lines[w.nlines]);
	if (w.synic_commands)
		u_printf("vmwp[%s]: SynIC test device: %lu commands\n", w.req.child, (unsigned long)w.synic_commands);
	u_printf("vmwp[%s]: %lu intercepts: %lu reads, %lu writes; %lu bytes sent to COM1; ID read %lu times, "
		 "returned 0x%x; %lu to no device; last wait %ld\n",
		 w.req.child, (unsigned long)(w.reads + w.writes), (unsigned long)w.reads, (unsigned long)w.writes,
		 (unsigned long)w.bytes, (unsigned long)w.id_reads, w.id_returned, (unsigned long)w.other, (long)k);
	if (w.mmio_reads + w.mmio_writes + w.mmio_refused)
		u_printf("vmwp[%s]: %lu MMIO accesses emulated: %lu reads, %lu writes; %lu to the HPET; %lu not "
			 "emulated\n", w.req.child, (unsigned long)(w.mmio_reads + w.mmio_writes),
			 (unsigned long)w.mmio_reads, (unsigned long)w.mmio_writes, (unsigned long)w.hpet_accesses,
			 (unsigned long)w.mmio_refused);
	return bad;
}

int umain(uint64_t role, uint64_t pid);

int umain(uint64_t role, uint64_t pid)
{
	u_set_pid((uint32_t)pid);
	switch (role) {
	case RK_ROLE_MAIN:
		return role_main((uint32_t)pid);
	case RK_ROLE_YIELD:
		return role_yield((uint32_t)pid);
	case RK_ROLE_VMWP:
		return role_vmwp();
	case RK_ROLE_HLT:
		u_printf("user: pid %lu: HLT in ring 3\n", (unsigned long)pid);
		asm volatile("hlt");
		break;
	case RK_ROLE_MOV_CR3: {
		uint64_t cr3;

		u_printf("user: pid %lu: MOV from CR3 in ring 3\n", (unsigned long)pid);
		asm volatile("movq %%cr3, %%rax\n\tmovq %%rax, %0" : "=r"(cr3) : : "rax");
		(void)cr3;
		break;
	}
	case RK_ROLE_READ_KERNEL:
		u_printf("user: pid %lu: load from the kernel at 0x%lx\n", (unsigned long)pid,
			 (unsigned long)RK_KERNEL_BASE);
		(void)*(volatile uint64_t *)(uintptr_t)RK_KERNEL_BASE;
		break;
	case RK_ROLE_EXEC_KERNEL:
		u_printf("user: pid %lu: jump into the kernel at 0x%lx\n", (unsigned long)pid,
			 (unsigned long)RK_KERNEL_BASE);
		((void (*)(void))(uintptr_t)RK_KERNEL_BASE)();
		break;
	case RK_ROLE_WRITE_TEXT:
		u_printf("user: pid %lu: store to its own code at %p\n", (unsigned long)pid, (void *)_start);
		*(volatile char *)_start = 0;
		break;
	default:
		u_printf("user: pid %lu: unknown role %lu\n", (unsigned long)pid, (unsigned long)role);
		return 99;
	}
	u_printf("FAIL: [pid %lu] still running after role %lu's forbidden instruction\n", (unsigned long)pid,
		 (unsigned long)role);
	return 100;
}
