/* A counting AP for interrupt-delivery tests (see ap.h). */
#include "ap.h"
#include "intc.h"

_Static_assert(AP_DATA_PA == 0x9000, "the trampoline addresses its mailbox at 0x9000");
_Static_assert(__builtin_offsetof(struct ap_counter, irqs) == 4 && __builtin_offsetof(struct ap_counter, tsc) == 8 &&
	       __builtin_offsetof(struct ap_counter, lower_port) == 16, "the trampoline's mailbox offsets");

/* Real-mode code (CS = AP_TRAMP_PA >> 4), position-independent. */
extern const uint8_t ap_tramp_start[], ap_tramp_handler[], ap_tramp_end[];
asm(".pushsection .text\n"
    ".code16\n"
    "ap_tramp_start:\n"
    "	cli\n"
    "	xorw %ax, %ax\n"
    "	movw %ax, %ds\n"
    "	movw %ax, %ss\n"
    "	movw $0x7000, %sp\n"
    "	movl $0x1b, %ecx\n"		/* IA32_APIC_BASE: EN | EXTD */
    "	rdmsr\n"
    "	orl $0xc00, %eax\n"
    "	wrmsr\n"
    "	movl $0x80f, %ecx\n"		/* x2APIC SVR: enabled, spurious 0xFF */
    "	movl $0x1ff, %eax\n"
    "	xorl %edx, %edx\n"
    "	wrmsr\n"
    "	lock incl 0x9000\n"
    "1:	sti\n"
    "	hlt\n"
    "	jmp 1b\n"
    "ap_tramp_handler:\n"
    "	pushl %eax\n"
    "	pushl %ecx\n"
    "	pushl %edx\n"
    "	rdtsc\n"
    "	movl %eax, 0x9008\n"
    "	movl %edx, 0x900c\n"
    "	lock incl 0x9004\n"
    "	movw 0x9010, %dx\n"
    "	testw %dx, %dx\n"
    "	jz 2f\n"
    "	xorb %al, %al\n"
    "	outb %al, %dx\n"
    "2:	movl $0x80b, %ecx\n"		/* x2APIC EOI */
    "	xorl %eax, %eax\n"
    "	xorl %edx, %edx\n"
    "	wrmsr\n"
    "	popl %edx\n"
    "	popl %ecx\n"
    "	popl %eax\n"
    "	iret\n"
    "ap_tramp_end:\n"
    ".code64\n"
    ".popsection\n");

void spin_tsc(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		cpu_pause();
}

bool wait_for_u32(volatile uint32_t *v, uint32_t want, uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (*v != want && rdtsc() - t0 < cycles)
		cpu_pause();
	return *v == want;
}

struct ap_counter *ap_start_counter(unsigned apic_id, unsigned vector, uint16_t lower_port)
{
	struct ap_counter *d = (struct ap_counter *)AP_DATA_PA;
	volatile uint16_t *ivt;

	asm("" : "=r"(ivt) : "0"(0ul));	/* the real-mode IVT at physical 0 */
	memset(d, 0, sizeof(*d));
	d->lower_port = lower_port;
	memcpy((void *)AP_TRAMP_PA, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
	ivt[vector * 2] = (uint16_t)(ap_tramp_handler - ap_tramp_start);
	ivt[vector * 2 + 1] = (uint16_t)(AP_TRAMP_PA >> 4);
	apic_w(0x310, apic_id << 24);	/* ICR high: the destination */
	apic_w(0x300, 0x4500);		/* INIT, level assert */
	apic_w(0x300, 0x4600 | (AP_TRAMP_PA >> 12));
	apic_w(0x300, 0x4600 | (AP_TRAMP_PA >> 12));
	return wait_for_u32(&d->started, 1, 50000000) ? d : NULL;
}
