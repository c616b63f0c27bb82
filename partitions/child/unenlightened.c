/* unenlightened.elf: a child kernel that knows nothing of the hypervisor.
 * It never looks at CPUID leaves 0x4000xxxx or the synthetic MSRs (nor
 * at any MSR) and takes no interrupt: it checks what the root handed
 * over, runs the workload, talks to the devices a PC would have
 * (childboot.h: a 16550 at COM1 and the worker's ID register, both
 * emulated by the root's worker process, and a port with nothing behind
 * it; the HPET at 0xFED00000, memory it was not given, which the worker
 * emulates instruction by instruction) and reports through the mailbox
 * (runtime.c). */
#include "child.h"

#define UART_THR 0
#define UART_LCR 3
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_LCR_8N1 0x03
#define UART_POLLS 1000		/* LSR reads per byte before giving up */

static const char child_line[] = "hello from the unenlightened child over COM1\n";

/* Polled transmit, as a boot loader writes to a 16550: wait for THRE,
 * then the byte.  Returns the bytes sent. */
static unsigned serial_write(const char *s, unsigned len)
{
	unsigned sent = 0;

	outb(CHILD_COM1_PORT + UART_LCR, UART_LCR_8N1);
	for (; sent < len; sent++) {
		unsigned polls = 0;

		while (!(inb(CHILD_COM1_PORT + UART_LSR) & UART_LSR_THRE))
			if (++polls == UART_POLLS)
				return sent;
		outb(CHILD_COM1_PORT + UART_THR, (uint8_t)s[sent]);
	}
	return sent;
}

static void devices(void)
{
	unsigned len = sizeof(child_line) - 1, sent = serial_write(child_line, len);
	uint32_t id = inl(CHILD_VMWP_ID_PORT);
	uint8_t scratch, nodev;

	child_check(sent == len, "COM1: %u of %u bytes sent (LSR said the transmitter was empty)", sent, len);
	/* The scratch register keeps what is written (16550). */
	outb(CHILD_COM1_PORT + 7, 0x5a);
	scratch = inb(CHILD_COM1_PORT + 7);
	child_check(scratch == 0x5a, "COM1 scratch register reads 0x%x (want 0x5a)", scratch);
	child_check((id >> 16) == (CHILD_VMWP_ID(0) >> 16), "ID port 0x%x reads 0x%08x (want 0x5657xxxx)",
		    CHILD_VMWP_ID_PORT, id);
	nodev = inb(CHILD_NODEV_PORT);
	child_check(nodev == 0xff, "port 0x%x, no device: reads 0x%x (want 0xff)", CHILD_NODEV_PORT, nodev);
}

/* The HPET's registers (IA-PC HPET Specification 1.0a, 2.3). */
#define HPET_CAP 0x000
#define HPET_CONFIG 0x010
#define HPET_STATUS 0x020
#define HPET_COUNTER 0x0f0
#define HPET_T0_CONFIG 0x100
#define HPET_T2_COMPARATOR 0x148
#define HPET_TN_PER_INT_CAP (1u << 4)
#define HPET_TN_SIZE_CAP (1u << 5)
#define HPET_TN_ROUTE_CNF (0x1fu << 9)

static volatile uint64_t *hpet64(unsigned off)
{
	return (volatile uint64_t *)(uintptr_t)(CHILD_HPET_BASE + off);
}

static volatile uint32_t *hpet32(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(CHILD_HPET_BASE + off);
}

/* Each access below is one MOV, MOVZX or MOVSX to a GPA the child has no
 * memory at: an intercept the worker decodes and emulates.  The forms the
 * compiler would not choose are written out. */
static uint64_t movzx_byte(unsigned off)
{
	uint64_t v;

	asm volatile("movzbl (%1), %k0" : "=r"(v) : "r"(CHILD_HPET_BASE + off) : "memory");
	return v;
}

static int64_t movsx_word(unsigned off)
{
	int64_t v;

	asm volatile("movswq (%1), %0" : "=r"(v) : "r"(CHILD_HPET_BASE + off) : "memory");
	return v;
}

/* A byte store from AH (ModRM reg 4 without REX) and a 16-bit store of an
 * immediate (66 C7 /0 iw), with a displacement. */
static void mov_ah_store(unsigned off, uint64_t rax)
{
	asm volatile("movb %%ah, 1(%1)" : : "a"(rax), "b"(CHILD_HPET_BASE + off - 1) : "memory");
}

static void mov_imm16_store(unsigned off)
{
	asm volatile("movw $0xbeef, 2(%0)" : : "r"(CHILD_HPET_BASE + off - 2) : "memory");
}

/* Let simulated time pass: 100 us at 3.4 GHz, 1,000 ticks of the HPET. */
static void hpet_wait(void)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < 340000)
		asm volatile("pause");
}

static void hpet(void)
{
	uint64_t cap = *hpet64(HPET_CAP), t0 = *hpet64(HPET_T0_CONFIG), c0, c1, c2, c3, c4;
	uint32_t period = (uint32_t)(cap >> 32), hi;
	unsigned timers = (unsigned)(cap >> 8 & 0x1f) + 1;
	int64_t sx;

	child_check((cap & 0xff) != 0 && (cap >> 16 & 0xffff) == CHILD_HPET_VENDOR && timers == CHILD_HPET_TIMERS &&
			    (cap & (1u << 13)) && !(cap & (1u << 15)) && period == CHILD_HPET_PERIOD_FS,
		    "HPET at 0x%lx: capabilities 0x%016lx (revision %lu, vendor 0x%lx, %u timers, 64-bit counter, "
		    "no legacy route, period %u fs)", (unsigned long)CHILD_HPET_BASE, (unsigned long)cap,
		    (unsigned long)(cap & 0xff), (unsigned long)(cap >> 16 & 0xffff), timers, period);
	child_check(movzx_byte(HPET_CAP) == (cap & 0xff) && *hpet32(HPET_CAP + 4) == period,
		    "HPET: MOVZX of the revision byte and a 32-bit read of the period match the 64-bit read");
	child_check((t0 & (HPET_TN_PER_INT_CAP | HPET_TN_SIZE_CAP)) == (HPET_TN_PER_INT_CAP | HPET_TN_SIZE_CAP) &&
			    (t0 >> 32) == 0,
		    "HPET timer 0: periodic and 64-bit capable, no interrupt route capable (0x%016lx)", (unsigned long)t0);
	*hpet32(HPET_T0_CONFIG) = HPET_TN_ROUTE_CNF;
	child_check((*hpet32(HPET_T0_CONFIG) & HPET_TN_ROUTE_CNF) == 0 && *hpet64(HPET_STATUS) == 0,
		    "HPET: a route written to timer 0 reads back 0 (none is capable); interrupt status 0");

	/* Halted (the reset state): the counter keeps what is written. */
	child_check(*hpet64(HPET_CONFIG) == 0, "HPET: halted after reset (configuration 0)");
	*hpet64(HPET_COUNTER) = 0x0000001234567890ull;
	c0 = *hpet64(HPET_COUNTER);
	hpet_wait();
	c1 = *hpet64(HPET_COUNTER);
	child_check(c0 == 0x0000001234567890ull && c1 == c0,
		    "HPET: a counter written while halted reads back 0x%lx, still 0x%lx later", (unsigned long)c0,
		    (unsigned long)c1);
	/* Running (MOV of an immediate), it counts up from there. */
	*hpet32(HPET_CONFIG) = 1;
	c1 = *hpet64(HPET_COUNTER);
	hpet_wait();
	c2 = *hpet64(HPET_COUNTER);
	child_check(c1 >= c0 && c2 > c1, "HPET: enabled, the counter advances: 0x%lx then 0x%lx (%lu ticks of 100 ns)",
		    (unsigned long)c1, (unsigned long)c2, (unsigned long)(c2 - c1));
	/* Halted again, it stops where it was. */
	*hpet64(HPET_CONFIG) = 0;
	c3 = *hpet64(HPET_COUNTER);
	hpet_wait();
	c4 = *hpet64(HPET_COUNTER);
	hi = *hpet32(HPET_COUNTER + 4);
	child_check(c3 > c2 && c4 == c3 && hi == c3 >> 32,
		    "HPET: halted, the counter stops at 0x%lx (then 0x%lx; high half 0x%x)", (unsigned long)c3,
		    (unsigned long)c4, hi);
	/* A comparator keeps what is written, byte and word stores too. */
	*hpet64(HPET_T2_COMPARATOR) = 0x8000000011223344ull;
	mov_ah_store(HPET_T2_COMPARATOR + 1, 0xa500);
	mov_imm16_store(HPET_T2_COMPARATOR + 2);
	sx = movsx_word(HPET_T2_COMPARATOR + 2);
	child_check(*hpet64(HPET_T2_COMPARATOR) == 0x80000000beefa544ull && sx == (int16_t)0xbeef,
		    "HPET timer 2 comparator: 0x%016lx after 64-, 8- (AH) and 16-bit (immediate) stores; MOVSX of "
		    "its word 2: %ld", (unsigned long)*hpet64(HPET_T2_COMPARATOR), (long)sx);
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_UNENLIGHTENED);
	child_workload(child_iterations());
	devices();
	hpet();
	child_finish();
}
