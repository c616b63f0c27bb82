/* The wait-for-SIPI activity state (SDM Vol. 3C 25.4.2, 26.6.2, 28.2.1):
 * a guest entered in it runs nothing; a SIPI sent to its processor by
 * another one exits with reason 4, the SIPI's vector as the exit
 * qualification and the activity state saved as wait-for-SIPI.  With
 * "unrestricted guest" the hypervisor then starts the guest where the
 * SIPI says, in real mode at CS = vector << 8 (base vector << 12), IP 0,
 * as the processor itself would (SDM Vol. 3A 8.4.4.1).  The BSP is the
 * hypervisor; the AP, started in real mode, sends the SIPI through its
 * x2APIC ICR once the BSP has entered the guest.  Run with --lps 2. */
#include "vmx.h"

#define APIC_BASE 0xFEE00000ul
#define R_SVR 0xF0
#define R_ICR_LO 0x300
#define R_ICR_HI 0x310
#define TRAMP_PA 0x8000ul
#define GO_PA 0x9000ul		/* the BSP sets it to 1 just before entering the guest */
#define SENT_PA 0x9004ul	/* the AP sets it once the SIPI is sent */
#define GUEST_SIPI_VECTOR 0x12

extern const uint8_t sipi_tramp_start[], sipi_tramp_end[];
asm(".pushsection .text\n"
    ".code16\n"
    "sipi_tramp_start:\n"
    "	cli\n"
    "	xorw %ax, %ax\n"
    "	movw %ax, %ds\n"
    "	movl $0x1b, %ecx\n"		/* IA32_APIC_BASE: EN | EXTD */
    "	rdmsr\n"
    "	orl $0xc00, %eax\n"
    "	wrmsr\n"
    "1:	cmpl $1, 0x9000\n"
    "	jne 1b\n"
    "	movl $50000, %ecx\n"		/* let the BSP get into its guest */
    "2:	decl %ecx\n"
    "	jnz 2b\n"
    "	movl $0x830, %ecx\n"		/* ICR: SIPI to x2APIC id 0 */
    "	movl $0x612, %eax\n"
    "	xorl %edx, %edx\n"
    "	wrmsr\n"
    "	movl $1, 0x9004\n"
    "3:	hlt\n"
    "	jmp 3b\n"
    "sipi_tramp_end:\n"
    ".code64\n"
    ".popsection\n");

/* What the guest runs at its SIPI vector: DS = CS, a word stored at
 * offset 100H of that page, VMCALL. */
extern const uint8_t sipi_guest_start[], sipi_guest_vmcall[], sipi_guest_end[];
asm(".pushsection .text\n"
    ".code16\n"
    "sipi_guest_start:\n"
    "	movw %cs, %ax\n"
    "	movw %ax, %ds\n"
    "	movw $0x5150, 0x100\n"
    "sipi_guest_vmcall:\n"
    "	vmcall\n"
    "sipi_guest_end:\n"
    ".code64\n"
    ".popsection\n");

static uint8_t guest_stack[4096] __attribute__((aligned(16)));

static void guest_never(void)
{
	for (;;)
		asm volatile("vmcall");
}

static void apic_w(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

/* Resume the guest of the SIPI exit at the SIPI's vector, in real mode. */
static void start_at_vector(uint64_t vector)
{
	volatile uint16_t *word = (volatile uint16_t *)(uintptr_t)((vector << 12) + 0x100);
	int r;

	if (!((rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32) & SECONDARY_UNRESTRICTED_GUEST) || !vmx_ept_identity()) {
		report_skip("no unrestricted guest: the guest cannot be started in real mode");
		return;
	}
	*word = 0;
	memcpy((void *)(uintptr_t)(vector << 12), sipi_guest_start, (size_t)(sipi_guest_end - sipi_guest_start));
	vmx_set_unrestricted();
	vmx_guest_real_mode((uint16_t)(vector << 8), 0, 0x1000, 0);
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	r = vmx_enter(1);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL &&
		       vmread(VMCS_GUEST_RIP) == (uint64_t)(sipi_guest_vmcall - sipi_guest_start),
	       "resumed in real mode at the vector, the guest runs to its VMCALL (entry %d, reason %lu, IP 0x%lx)", r,
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)vmread(VMCS_GUEST_RIP));
	report(vmread(VMCS_GUEST_CS_SELECTOR) == vector << 8 && vmread(VMCS_GUEST_CS_BASE) == vector << 12 &&
		       *word == 0x5150,
	       "it ran at CS %04lx, base 0x%lx, and stored 0x%x at base + 100H", (unsigned long)vmread(VMCS_GUEST_CS_SELECTOR),
	       (unsigned long)vmread(VMCS_GUEST_CS_BASE), *word);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	volatile uint32_t *go = (volatile uint32_t *)GO_PA, *sent = (volatile uint32_t *)SENT_PA;
	unsigned n = fwcfg_present() ? fwcfg_read_u16(FW_CFG_NB_CPUS) : 1;
	uint64_t misc;
	int r;

	(void)magic;
	(void)info;
	if (n < 2)
		guest_skip("needs 2 LPs (run with --lps 2)");
	if (!(cpuid(1, 0).ecx & (1u << 5)))
		guest_skip("no VMX");
	misc = rdmsr(MSR_IA32_VMX_MISC);
	if (!report(misc & (1u << 8), "IA32_VMX_MISC 0x%lx offers wait-for-SIPI (bit 8)", (unsigned long)misc))
		return;

	*go = 0;
	*sent = 0;
	memcpy((void *)TRAMP_PA, sipi_tramp_start, (size_t)(sipi_tramp_end - sipi_tramp_start));
	apic_w(R_SVR, 0x1ff);
	apic_w(R_ICR_HI, 1u << 24);
	apic_w(R_ICR_LO, 0x4500);			/* INIT to APIC id 1 */
	apic_w(R_ICR_LO, 0x4600 | (TRAMP_PA >> 12));	/* SIPI */
	wrmsr(0x1b, rdmsr(0x1b) | (1ull << 10));	/* x2APIC, like the AP */

	report(vmx_on() == 0, "VMXON");
	vmx_setup_vmcs(guest_never, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_WAIT_SIPI);
	*go = 1;
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_SIPI, "a SIPI exits with reason %lu (want 4)",
	       (unsigned long)vmread(VMCS_EXIT_REASON));
	report(vmread(VMCS_EXIT_QUALIFICATION) == GUEST_SIPI_VECTOR, "exit qualification 0x%lx: the SIPI vector 0x%x",
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION), GUEST_SIPI_VECTOR);
	report(vmread(VMCS_GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_WAIT_SIPI, "activity state saved: %lu (want 3)",
	       (unsigned long)vmread(VMCS_GUEST_ACTIVITY_STATE));
	report(*sent == 1, "the AP sent it while the guest waited");
	start_at_vector(vmread(VMCS_EXIT_QUALIFICATION));

	/* Nothing can be injected in wait-for-SIPI (SDM 27.3.1.5). */
	vmx_setup_vmcs(guest_never, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_WAIT_SIPI);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | 0x40);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == (EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_GUEST_STATE),
	       "injecting an interrupt into wait-for-SIPI fails the entry (reason 0x%lx)",
	       (unsigned long)vmread(VMCS_EXIT_REASON));
	vmxoff();
}
