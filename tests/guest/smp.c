/* Multiprocessor start-up and IPIs (SDM Vol. 3A 8.4 "Multiple-Processor
 * (MP) Initialization", 10.6 "Issuing Interprocessor Interrupts"): the
 * BSP wakes every AP with INIT-SIPI-SIPI; each starts in real mode at the
 * SIPI vector, records its APIC id, switches its LAPIC to x2APIC mode and
 * halts with interrupts on; the BSP then interrupts each AP by its x2APIC
 * id and all of them with the all-excluding-self shorthand, and each
 * interrupt wakes its AP from HLT.  Run with --lps 2 or more. */
#include "guest.h"

#define APIC_BASE 0xFEE00000ul
#define R_SVR 0xF0
#define R_ICR_LO 0x300
#define R_ICR_HI 0x310

#define TRAMP_PA 0x8000ul	/* SIPI vector 0x08 */
#define SIPI_VECTOR (TRAMP_PA >> 12)
#define DATA_PA 0x9000ul	/* what the APs write (below) */
#define IPI_VECTOR 0x30

/* The APs' data page. */
struct ap_data {
	volatile uint32_t present;	/* bit n: APIC id n started */
	volatile uint32_t started;	/* APs that reached their HLT loop */
	volatile uint32_t ipis;		/* IPIs the APs' handler took */
	volatile uint32_t per_ap[32];	/* the same, by APIC id */
};

/* Real-mode trampoline, copied to TRAMP_PA; CS = 0x0800, IP = 0. */
extern const uint8_t tramp_start[], tramp_handler[], tramp_end[];
asm(".pushsection .text\n"
    ".code16\n"
    "tramp_start:\n"
    "	cli\n"
    "	xorw %ax, %ax\n"
    "	movw %ax, %ds\n"
    "	movw %ax, %ss\n"
    "	movl $1, %eax\n"
    "	cpuid\n"
    "	shrl $24, %ebx\n"			/* initial APIC id */
    "	movw %bx, %ax\n"
    "	shlw $8, %ax\n"
    "	movw $0x7000, %sp\n"
    "	subw %ax, %sp\n"			/* 256 bytes of stack per AP */
    "	lock btsl %ebx, 0x9000\n"
    "	movl $0x1b, %ecx\n"			/* IA32_APIC_BASE: EN | EXTD */
    "	rdmsr\n"
    "	orl $0xc00, %eax\n"
    "	wrmsr\n"
    "	movl $0x80f, %ecx\n"			/* SVR: enabled, vector 0xFF */
    "	movl $0x1ff, %eax\n"
    "	xorl %edx, %edx\n"
    "	wrmsr\n"
    "	lock incl 0x9004\n"
    "1:	sti\n"
    "	hlt\n"
    "	jmp 1b\n"
    "tramp_handler:\n"				/* IVT entry IPI_VECTOR */
    "	pushl %eax\n"
    "	pushl %ecx\n"
    "	pushl %edx\n"
    "	pushl %ebx\n"
    "	lock incl 0x9008\n"
    "	movl $1, %eax\n"
    "	cpuid\n"
    "	shrl $24, %ebx\n"
    "	shll $2, %ebx\n"
    "	lock incl 0x900c(%bx)\n"
    "	movl $0x80b, %ecx\n"			/* x2APIC EOI */
    "	xorl %eax, %eax\n"
    "	xorl %edx, %edx\n"
    "	wrmsr\n"
    "	popl %ebx\n"
    "	popl %edx\n"
    "	popl %ecx\n"
    "	popl %eax\n"
    "	iret\n"
    "tramp_end:\n"
    ".code64\n"
    ".popsection\n");

static void apic_w(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

static bool wait_for(volatile uint32_t *v, uint32_t want, uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (*v != want && rdtsc() - t0 < cycles)
		cpu_pause();
	return *v == want;
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	struct ap_data *d = (struct ap_data *)DATA_PA;
	volatile uint16_t *ivt;
	unsigned n = fwcfg_present() ? fwcfg_read_u16(FW_CFG_NB_CPUS) : 1;
	uint32_t all = 0;
	bool done;	/* read before what is printed: argument order is unspecified */

	(void)magic;
	(void)info;
	/* The real-mode IVT is at physical 0: hide the null base from the
	 * compiler. */
	asm("" : "=r"(ivt) : "0"(0ul));
	if (n < 2 || n > 32)
		guest_skip("needs 2..32 LPs (fw_cfg reports %u): run with --lps", n);
	memset(d, 0, sizeof(*d));
	memcpy((void *)TRAMP_PA, tramp_start, (size_t)(tramp_end - tramp_start));
	ivt[IPI_VECTOR * 2] = (uint16_t)(tramp_handler - tramp_start);
	ivt[IPI_VECTOR * 2 + 1] = (uint16_t)(TRAMP_PA >> 4);
	for (unsigned i = 1; i < n; i++)
		all |= 1u << i;

	/* SDM 8.4.4.1: INIT, then two SIPIs, to all excluding self. */
	apic_w(R_SVR, 0x1ff);
	apic_w(R_ICR_HI, 0);
	apic_w(R_ICR_LO, 0x000C4500);	/* all-excluding-self, INIT, level assert */
	apic_w(R_ICR_LO, 0x000C8500);	/* INIT level de-assert: ignored by the APs */
	apic_w(R_ICR_LO, 0x000C4600 | SIPI_VECTOR);
	apic_w(R_ICR_LO, 0x000C4600 | SIPI_VECTOR);
	done = wait_for(&d->started, n - 1, 50000000);
	report(done, "%u of %u APs started from the SIPI vector", d->started, n - 1);
	report(d->present == all, "APIC ids seen 0x%x (expected 0x%x)", d->present, all);

	/* The BSP to x2APIC too: IPIs by 32-bit x2APIC id (SDM 10.12.9). */
	wrmsr(0x1b, rdmsr(0x1b) | (1ull << 10));
	for (unsigned i = 1; i < n; i++) {
		wrmsr(0x830, ((uint64_t)i << 32) | IPI_VECTOR);
		report(wait_for(&d->per_ap[i], 1, 5000000), "fixed IPI to x2APIC id %u woke it from HLT", i);
	}
	report(d->ipis == n - 1, "each AP took exactly one (%u)", d->ipis);
	wrmsr(0x830, 0x000C0000 | IPI_VECTOR);	/* all excluding self */
	done = wait_for(&d->ipis, 2 * (n - 1), 5000000);
	report(done, "all-excluding-self reached every AP (%u IPIs in all)", d->ipis);
	for (unsigned i = 1; i < n; i++)
		if (d->per_ap[i] != 2)
			report(false, "AP %u took %u IPIs", i, d->per_ap[i]);
}
