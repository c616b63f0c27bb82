/* APIC virtualization on the bare platform (SDM Vol. 3C ch. 29 "APIC
 * Virtualization and Virtual Interrupts", 25.6.8 the virtual-APIC and
 * APIC-access addresses and the TPR threshold, 27.2.1.1 their entry
 * checks, 27.7.7 the TPR-threshold exit at VM entry, 28.2.1 Table 28-6
 * the APIC-access exit qualification): "use TPR shadow" with MOV CR8,
 * "virtualize APIC accesses" with and without the TPR shadow and under
 * EPT, "virtualize x2APIC mode" with the TPR MSR.
 *
 * This kernel is the hypervisor.  The guests are the small programs
 * below, in assembly so every instruction address is known; they take
 * their operands from g_a, g_b, g_c and leave results in g_out, g_out2,
 * so the library's vmx_enter() serves (it keeps this kernel's registers
 * across the guest).  Guests run on their own page tables: this kernel's
 * identity map, except linear 1 GiB (WIN), which one page table maps
 * with 4 KiB pages (an APIC-access page reached through a large page may
 * or may not exit, SDM 29.4.5.1): WIN page 0 is the APIC-access page,
 * page 1 the guest-physical address EPT points at it, page 2 plain RAM. */
#include "vmx.h"

#define WIN 0x40000000ull
#define WIN_APIC WIN			/* -> the APIC-access page (no EPT) */
#define WIN_EPT (WIN + 0x1000)		/* -> GPA_APIC, which EPT maps to it */
#define GPA_APIC 0xfee00000ull		/* where a guest expects its APIC */

#define Q_READ ((uint64_t)EXIT_QUAL_APIC_LINEAR_READ << EXIT_QUAL_APIC_TYPE_SHIFT)
#define Q_WRITE ((uint64_t)EXIT_QUAL_APIC_LINEAR_WRITE << EXIT_QUAL_APIC_TYPE_SHIFT)
#define Q_FETCH ((uint64_t)EXIT_QUAL_APIC_LINEAR_FETCH << EXIT_QUAL_APIC_TYPE_SHIFT)
#define Q_EVENT ((uint64_t)EXIT_QUAL_APIC_LINEAR_EVENT << EXIT_QUAL_APIC_TYPE_SHIFT)

#define A(f) ((uint64_t)(uintptr_t)(f))
#define ANY (~0ull)

static uint8_t vapic[4096] __attribute__((aligned(4096)));	/* virtual-APIC page */
static uint8_t apic_page[4096] __attribute__((aligned(4096)));	/* APIC-access page */
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint64_t g_pml4[512] __attribute__((aligned(4096)));
static uint64_t g_pdpt[512] __attribute__((aligned(4096)));
static uint64_t g_pd[512] __attribute__((aligned(4096)));
static uint64_t g_pt[512] __attribute__((aligned(4096)));
static uint64_t ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd[4][512] __attribute__((aligned(4096)));
static uint64_t ept_pt[512] __attribute__((aligned(4096)));
static uint8_t plain[4096] __attribute__((aligned(4096)));
static uint8_t guest_stack[8192] __attribute__((aligned(16)));

volatile uint64_t g_a, g_b, g_c, g_out, g_out2;

asm(".pushsection .text\n"
    /* MOV from CR8, then MOV to CR8 of g_a */
    ".globl ga_cr8, ga_cr8_w, ga_cr8_after\n"
    "ga_cr8:\tmov %cr8, %rax\n\tmov %rax, g_out(%rip)\n\tmov g_a(%rip), %rcx\n"
    "ga_cr8_w:\tmov %rcx, %cr8\n"
    "ga_cr8_after:\tvmcall\n"
    /* 32-bit load from g_a into g_out (EBX preset to 5a5a5a5a) */
    ".globl ga_read, ga_read_i\n"
    "ga_read:\tmov g_a(%rip), %rax\n\tmov $0x5a5a5a5a, %ebx\n"
    "ga_read_i:\tmov (%rax), %ebx\n\tmov %rbx, g_out(%rip)\n\tvmcall\n"
    /* 64-bit load */
    ".globl ga_read64, ga_read64_i\n"
    "ga_read64:\tmov g_a(%rip), %rax\n"
    "ga_read64_i:\tmov (%rax), %rbx\n\tvmcall\n"
    /* 8-bit load into BH (RBX preset to 5a5a5a5a) */
    ".globl ga_readbh, ga_readbh_i\n"
    "ga_readbh:\tmov g_a(%rip), %rax\n\tmov $0x5a5a5a5a, %ebx\n"
    "ga_readbh_i:\tmov (%rax), %bh\n\tmov %rbx, g_out(%rip)\n\tvmcall\n"
    /* 32-bit store of g_b at g_a */
    ".globl ga_write, ga_write_i, ga_write_after\n"
    "ga_write:\tmov g_a(%rip), %rax\n\tmov g_b(%rip), %rbx\n"
    "ga_write_i:\tmov %ebx, (%rax)\n"
    "ga_write_after:\tvmcall\n"
    /* read-modify-write of the dword at g_a */
    ".globl ga_rmw, ga_rmw_i\n"
    "ga_rmw:\tmov g_a(%rip), %rax\n"
    "ga_rmw_i:\taddl $1, (%rax)\n\tvmcall\n"
    /* jump to g_a */
    ".globl ga_jump\n"
    "ga_jump:\tmov g_a(%rip), %rax\n\tjmp *%rax\n"
    /* INT3 with the stack at g_a */
    ".globl ga_stack, ga_stack_i\n"
    "ga_stack:\tmov g_a(%rip), %rsp\n"
    "ga_stack_i:\tint3\n\tvmcall\n"
    /* RDMSR g_a into g_out (EAX) and g_out2 (EDX) */
    ".globl ga_rdmsr, ga_rdmsr_i\n"
    "ga_rdmsr:\tmov g_a(%rip), %rcx\n\tmov $-1, %rax\n\tmov $-1, %rdx\n"
    "ga_rdmsr_i:\trdmsr\n\tmov %rax, g_out(%rip)\n\tmov %rdx, g_out2(%rip)\n\tvmcall\n"
    /* WRMSR g_a with EDX:EAX = g_c:g_b */
    ".globl ga_wrmsr, ga_wrmsr_i, ga_wrmsr_after\n"
    "ga_wrmsr:\tmov g_a(%rip), %rcx\n\tmov g_b(%rip), %rax\n\tmov g_c(%rip), %rdx\n"
    "ga_wrmsr_i:\twrmsr\n"
    "ga_wrmsr_after:\tvmcall\n"
    ".popsection");

extern char ga_cr8[], ga_cr8_w[], ga_cr8_after[], ga_read[], ga_read_i[], ga_read64[], ga_read64_i[];
extern char ga_readbh[], ga_readbh_i[], ga_write[], ga_write_i[], ga_write_after[], ga_rmw[], ga_rmw_i[];
extern char ga_jump[], ga_stack[], ga_stack_i[], ga_rdmsr[], ga_rdmsr_i[], ga_wrmsr[], ga_wrmsr_i[];
extern char ga_wrmsr_after[];

static unsigned maxphyaddr;
static uint64_t eptp;

static void tables_build(void)
{
	g_pml4[0] = A(g_pdpt) | PTE_P | PTE_W;
	for (int i = 0; i < 4; i++)
		g_pdpt[i] = A(guest_pd[i]) | PTE_P | PTE_W;
	g_pdpt[1] = A(g_pd) | PTE_P | PTE_W;
	g_pd[0] = A(g_pt) | PTE_P | PTE_W;
	g_pt[0] = A(apic_page) | PTE_P | PTE_W;
	g_pt[1] = GPA_APIC | PTE_P | PTE_W;
	g_pt[2] = A(plain) | PTE_P | PTE_W;
	/* EPT: identity 2 MiB pages below 4 GiB, except the 2 MiB at
	 * GPA_APIC, whose first 4 KiB page is the APIC-access page. */
	for (int i = 0; i < 2048; i++)
		ept_pd[i / 512][i % 512] = ((uint64_t)i << 21) | EPTE_READ | EPTE_WRITE | EPTE_EXEC |
					   (6ull << EPTE_MEMTYPE_SHIFT) | EPTE_LARGE_PAGE;
	for (int i = 0; i < 512; i++)
		ept_pt[i] = (GPA_APIC + (uint64_t)i * 4096) | EPTE_READ | EPTE_WRITE | EPTE_EXEC |
			    (6ull << EPTE_MEMTYPE_SHIFT);
	ept_pt[0] = A(apic_page) | EPTE_READ | EPTE_WRITE | EPTE_EXEC | (6ull << EPTE_MEMTYPE_SHIFT);
	ept_pd[GPA_APIC >> 30][(GPA_APIC >> 21) & 511] = A(ept_pt) | EPTE_READ | EPTE_WRITE | EPTE_EXEC;
	for (int i = 0; i < 4; i++)
		ept_pdpt[i] = A(ept_pd[i]) | EPTE_READ | EPTE_WRITE | EPTE_EXEC;
	ept_pml4[0] = A(ept_pdpt) | EPTE_READ | EPTE_WRITE | EPTE_EXEC;
	eptp = A(ept_pml4) | 6 | (3ull << EPTP_WALK_LENGTH_SHIFT);
}

static void set_ctl(uint32_t field, uint32_t set, uint32_t clear)
{
	vmwrite(field, (vmread(field) | set) & ~(uint64_t)clear);
}

static uint32_t vtpr(void)
{
	return *(volatile uint32_t *)&vapic[VAPIC_TPR_OFFSET];
}

static void set_vtpr(uint32_t v)
{
	*(volatile uint32_t *)&vapic[VAPIC_TPR_OFFSET] = v;
}

/* A fresh VMCS for guest `entry` on its own page tables.  `tpr`: "use
 * TPR shadow" with the virtual-APIC page and `thr` as TPR threshold;
 * `p2`: secondary controls (the APIC-access address is apic_page). */
static void setup(void *entry, int tpr, uint32_t thr, uint32_t p2)
{
	vmx_setup_vmcs((void (*)(void))entry, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_CR3, A(g_pml4));
	vmwrite(VMCS_PROC_BASED_CTLS2, p2);
	set_ctl(VMCS_PROC_BASED_CTLS, p2 ? CPU_BASED_ACTIVATE_SECONDARY_CONTROLS : 0,
		p2 ? 0 : CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
	set_ctl(VMCS_PROC_BASED_CTLS, tpr ? CPU_BASED_TPR_SHADOW : 0, tpr ? 0 : CPU_BASED_TPR_SHADOW);
	vmwrite(VMCS_VIRTUAL_APIC_PAGE_ADDR, A(vapic));
	vmwrite(VMCS_TPR_THRESHOLD, thr);
	vmwrite(VMCS_APIC_ACCESS_ADDR, A(apic_page));
	vmwrite(VMCS_EPT_POINTER, eptp);
	vmwrite(VMCS_VPID, 1);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	g_out = g_out2 = ~0ull;
}

static bool check_exit(const char *what, int r, uint64_t reason, uint64_t qual, uint64_t rip)
{
	uint64_t xr = vmread(VMCS_EXIT_REASON), xq = vmread(VMCS_EXIT_QUALIFICATION);
	uint64_t xp = vmread(VMCS_GUEST_RIP);
	bool ok = r == 0 && xr == reason && (qual == ANY || xq == qual) && (rip == ANY || xp == rip);

	return report(ok, "%s: entry %d, reason %lu (want %lu), qualification 0x%lx (want 0x%lx), "
		      "guest RIP 0x%lx (want 0x%lx)", what, r, (unsigned long)xr, (unsigned long)reason,
		      (unsigned long)xq, (unsigned long)qual, (unsigned long)xp, (unsigned long)rip);
}

/* The guest ran to its VMCALL: the instruction under test did not exit. */
static bool check_vmcall(const char *what, int r)
{
	return check_exit(what, r, EXIT_REASON_VMCALL, 0, ANY);
}

static void check_entry_fails(const char *what)
{
	int r = vmx_enter(0);

	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "%s: VM entry fails with error 7 (entry %d, error %lu)", what, r,
	       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
}

static uint8_t cr8_read(void)
{
	uint64_t v;

	asm volatile("mov %%cr8, %0" : "=r"(v));
	return (uint8_t)v;
}

static void cr8_write(uint64_t v)
{
	asm volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

/* ---- 1. capabilities (SDM A.3.2, A.3.3) ---- */

static bool test_caps(void)
{
	uint32_t proc = (uint32_t)(rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) >> 32);
	uint32_t p2 = (uint32_t)(rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32);

	return report((proc & CPU_BASED_TPR_SHADOW) && (p2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES) &&
			      (p2 & SECONDARY_VIRTUALIZE_X2APIC) && (p2 & SECONDARY_ENABLE_EPT),
		      "use TPR shadow, virtualize APIC accesses, virtualize x2APIC mode and EPT offered "
		      "(primary allowed-1 0x%x, secondary 0x%x)", proc, p2);
}

/* ---- 2. MOV CR8 under "use TPR shadow" (SDM 29.3, 29.1.2) ---- */

/* ga_cr8 with VTPR `v`, writing `cr8`, with TPR threshold `thr`;
 * `ctl` more primary controls, `exc` the exception bitmap. */
static int cr8_run(uint32_t v, uint64_t cr8, uint32_t thr, uint32_t ctl, uint32_t exc)
{
	set_vtpr(v);
	g_a = cr8;
	setup(ga_cr8, 1, thr, 0);
	set_ctl(VMCS_PROC_BASED_CTLS, ctl, 0);
	vmwrite(VMCS_EXCEPTION_BITMAP, exc);
	return vmx_enter(0);
}

static void test_cr8(void)
{
	int r;

	cr8_write(3);	/* the physical TPR, which the guest must not see */
	r = cr8_run(0xaaaaaa50, 7, 0, 0, 0);
	check_vmcall("MOV from/to CR8 with use TPR shadow", r);
	report(g_out == 5, "MOV from CR8 read VTPR[7:4] (0x%lx, want 5)", (unsigned long)g_out);
	report(vtpr() == 0x70, "MOV to CR8 wrote VTPR[7:4] and cleared the rest of VTPR (0x%x, want 0x70)", vtpr());
	report(cr8_read() == 3, "the physical TPR is unchanged (CR8 %u, want 3)", cr8_read());

	/* Lowering VTPR[7:4] below the threshold: a trap-like exit. */
	r = cr8_run(0x70, 3, 4, 0, 0);
	check_exit("MOV to CR8 of 3 with TPR threshold 4", r, EXIT_REASON_TPR_BELOW_THRESHOLD, 0, A(ga_cr8_after));
	report(vtpr() == 0x30, "... after the write (VTPR 0x%x, want 0x30)", vtpr());
	report(cr8_read() == 3, "... the physical TPR still 3 (%u)", cr8_read());

	/* Equal to the threshold, or above it: no exit. */
	r = cr8_run(0x70, 4, 4, 0, 0);
	check_vmcall("MOV to CR8 of 4 with TPR threshold 4 does not exit", r);
	report(vtpr() == 0x40, "... VTPR 0x%x (want 0x40)", vtpr());

	/* CR8-load exiting comes first; VTPR is untouched (SDM 25.1.3). */
	r = cr8_run(0x70, 2, 4, CPU_BASED_CR8_LOAD_EXITING, 0);
	check_exit("MOV to CR8 with CR8-load exiting and use TPR shadow", r, EXIT_REASON_CR_ACCESS, 8 | (1u << 8),
		   A(ga_cr8_w));
	report(vtpr() == 0x70, "... VTPR unchanged (0x%x)", vtpr());

	/* Reserved bits 63:4 still raise #GP (SDM Vol. 2B MOV CR). */
	r = cr8_run(0x70, 0x10, 0, 0, 1u << 13);
	check_exit("MOV to CR8 of 0x10 with use TPR shadow", r, EXIT_REASON_EXCEPTION_NMI, 0, A(ga_cr8_w));
	report((vmread(VMCS_EXIT_INTR_INFO) & 0xff) == 13 && vtpr() == 0x70, "... is #GP (info 0x%lx), VTPR 0x%x",
	       (unsigned long)vmread(VMCS_EXIT_INTR_INFO), vtpr());

	/* Without the TPR shadow, MOV to CR8 reaches the physical TPR. */
	g_a = 6;
	setup(ga_cr8, 0, 0, 0);
	r = vmx_enter(0);
	check_vmcall("MOV to CR8 without use TPR shadow", r);
	report(cr8_read() == 6 && g_out == 3, "... wrote the physical TPR (CR8 %u, want 6; read %lu, want 3)",
	       cr8_read(), (unsigned long)g_out);
	cr8_write(0);
}

/* ---- 3. the TPR threshold at VM entry (SDM 27.2.1.1, 27.7.7) ---- */

static void test_entry_threshold(void)
{
	int r;

	/* Without "virtualize APIC accesses" a threshold above VTPR[7:4]
	 * fails the entry. */
	set_vtpr(0x30);
	setup(ga_cr8, 1, 4, 0);
	check_entry_fails("TPR threshold 4 above VTPR 0x30 without virtualize APIC accesses");

	/* With it, the entry succeeds and exits at once, before the first
	 * guest instruction. */
	g_a = 7;
	setup(ga_cr8, 1, 4, SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	r = vmx_enter(0);
	check_exit("TPR threshold 4 above VTPR 0x30 with virtualize APIC accesses", r,
		   EXIT_REASON_TPR_BELOW_THRESHOLD, 0, A(ga_cr8));
	report(g_out == ~0ull, "... no guest instruction ran");

	set_vtpr(0x40);
	setup(ga_cr8, 1, 4, SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	r = vmx_enter(0);
	check_vmcall("TPR threshold 4 and VTPR 0x40 at entry: no exit", r);
}

/* ---- 4. entry checks (SDM 27.2.1.1) ---- */

static void test_entry_checks(void)
{
	uint64_t beyond = 1ull << maxphyaddr;

	set_vtpr(0);
	setup(ga_cr8, 1, 0, 0);
	vmwrite(VMCS_VIRTUAL_APIC_PAGE_ADDR, A(vapic) + 0x80);
	check_entry_fails("virtual-APIC address not 4 KiB aligned");
	setup(ga_cr8, 1, 0, 0);
	vmwrite(VMCS_VIRTUAL_APIC_PAGE_ADDR, beyond);
	check_entry_fails("virtual-APIC address beyond the physical-address width");
	setup(ga_cr8, 1, 0x10, 0);
	check_entry_fails("TPR threshold bits 31:4 not 0");
	setup(ga_cr8, 0, 0, SECONDARY_VIRTUALIZE_X2APIC);
	check_entry_fails("virtualize x2APIC mode without use TPR shadow");
	setup(ga_cr8, 1, 0, SECONDARY_VIRTUALIZE_X2APIC | SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	check_entry_fails("virtualize x2APIC mode with virtualize APIC accesses");
	setup(ga_cr8, 0, 0, SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	vmwrite(VMCS_APIC_ACCESS_ADDR, A(apic_page) + 0x10);
	check_entry_fails("APIC-access address not 4 KiB aligned");
	setup(ga_cr8, 0, 0, SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	vmwrite(VMCS_APIC_ACCESS_ADDR, beyond);
	check_entry_fails("APIC-access address beyond the physical-address width");

	/* The fields are checked only with their control set. */
	setup(ga_cr8, 0, 0x10, 0);
	vmwrite(VMCS_VIRTUAL_APIC_PAGE_ADDR, beyond | 0x80);
	vmwrite(VMCS_APIC_ACCESS_ADDR, beyond | 0x10);
	g_a = 0;
	check_vmcall("the same fields with the controls clear: entry succeeds", vmx_enter(0));
}

/* ---- 5. APIC-access exits (SDM 29.4, 28.2.1 Table 28-6) ---- */

/* Run `entry` with operands a, b under "virtualize APIC accesses" and
 * the secondary controls `p2`; `tpr` and `thr` as setup()'s. */
static int apic_run(void *entry, uint64_t a, uint64_t b, int tpr, uint32_t thr, uint32_t p2)
{
	g_a = a;
	g_b = b;
	setup(entry, tpr, thr, SECONDARY_VIRTUALIZE_APIC_ACCESSES | p2);
	return vmx_enter(0);
}

static void test_apic_access(void)
{
	int r;

	memset(apic_page, 0x11, sizeof(apic_page));
	set_vtpr(0x20);
	r = apic_run(ga_read, WIN_APIC + 0x300, 0, 0, 0, 0);
	check_exit("32-bit read at APIC-access page offset 0x300", r, EXIT_REASON_APIC_ACCESS, 0x300 | Q_READ,
		   A(ga_read_i));
	report(vmread(VMCS_EXIT_INSTRUCTION_LEN) == 2, "... instruction length %lu (want 2)",
	       (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));

	r = apic_run(ga_write, WIN_APIC + 0x310, 0x12345678, 0, 0, 0);
	check_exit("32-bit write at offset 0x310", r, EXIT_REASON_APIC_ACCESS, 0x310 | Q_WRITE, A(ga_write_i));
	report(*(volatile uint32_t *)&apic_page[0x310] == 0x11111111, "... the page is not written (0x%x)",
	       *(volatile uint32_t *)&apic_page[0x310]);

	r = apic_run(ga_rmw, WIN_APIC + 0x3e0, 0, 0, 0, 0);
	check_exit("ADD to memory at offset 0x3e0 is a write", r, EXIT_REASON_APIC_ACCESS, 0x3e0 | Q_WRITE,
		   A(ga_rmw_i));

	r = apic_run(ga_jump, WIN_APIC + 0x20, 0, 0, 0, 0);
	check_exit("instruction fetch at offset 0x20", r, EXIT_REASON_APIC_ACCESS, 0x20 | Q_FETCH, WIN_APIC + 0x20);

	/* The stack on the page: the INT3 frame's pushes exit, as an
	 * access during event delivery with the event as IDT-vectoring
	 * information (type 6, vector 3). */
	r = apic_run(ga_stack, WIN_APIC + 0x100, 0, 0, 0, 0);
	check_exit("INT3 pushing its frame onto the page", r, EXIT_REASON_APIC_ACCESS, ANY, A(ga_stack_i));
	{
		uint64_t q = vmread(VMCS_EXIT_QUALIFICATION), v = vmread(VMCS_IDT_VECTORING_INFO);

		report((q & ~EXIT_QUAL_APIC_OFFSET_MASK) == Q_EVENT && (q & 0xfff) >= 0xd8 && (q & 0xfff) < 0x100,
		       "... access type 3 (event delivery), offset in the frame (qualification 0x%lx)",
		       (unsigned long)q);
		report((v & 0x80000fffu) == (0x80000000u | 6u << 8 | 3u) && vmread(VMCS_EXIT_INSTRUCTION_LEN) == 1,
		       "... IDT-vectoring information 0x%lx (want software exception 3), instruction length %lu "
		       "(want 1)", (unsigned long)v, (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));
	}

	/* Plain RAM in the same window does not exit. */
	*(volatile uint32_t *)&plain[0x80] = 0xcafe;
	r = apic_run(ga_read, WIN + 0x2080, 0, 0, 0, 0);
	check_vmcall("a read of an ordinary page next to it", r);
	report(g_out == 0xcafe, "... reads memory (0x%lx)", (unsigned long)g_out);

	/* Without the TPR shadow, offset 0x80 exits like any other. */
	r = apic_run(ga_read, WIN_APIC + 0x80, 0, 0, 0, 0);
	check_exit("read of offset 0x80 without use TPR shadow", r, EXIT_REASON_APIC_ACCESS, 0x80 | Q_READ,
		   A(ga_read_i));
}

/* ---- 6. VTPR through the APIC-access page (SDM 29.4.2, 29.4.3) ---- */

static void test_vtpr_page(void)
{
	int r;

	memset(apic_page, 0x11, sizeof(apic_page));
	set_vtpr(0x60);
	r = apic_run(ga_read, WIN_APIC + 0x80, 0, 1, 0, 0);
	check_vmcall("32-bit read of offset 0x80 with use TPR shadow", r);
	report(g_out == 0x60, "... returns VTPR (0x%lx, want 0x60)", (unsigned long)g_out);

	set_vtpr(0x60);
	r = apic_run(ga_readbh, WIN_APIC + 0x80, 0, 1, 0, 0);
	check_vmcall("8-bit read of offset 0x80 into BH", r);
	report(g_out == 0x5a5a605a, "... merges VTPR[7:0] into BH (RBX 0x%lx, want 0x5a5a605a)", (unsigned long)g_out);

	set_vtpr(0xaaaaaa60);
	r = apic_run(ga_write, WIN_APIC + 0x80, 0xffffff50, 1, 0, 0);
	check_vmcall("32-bit write of 0xffffff50 to offset 0x80", r);
	report(vtpr() == 0x50, "... writes VTPR and clears its bytes 3:1 (0x%x, want 0x50)", vtpr());
	report(*(volatile uint32_t *)&apic_page[0x80] == 0x11111111, "... not the APIC-access page (0x%x)",
	       *(volatile uint32_t *)&apic_page[0x80]);

	set_vtpr(0x60);
	r = apic_run(ga_write, WIN_APIC + 0x80, 0x20, 1, 3, 0);
	check_exit("write of 0x20 to offset 0x80 with TPR threshold 3", r, EXIT_REASON_TPR_BELOW_THRESHOLD, 0,
		   A(ga_write_after));
	report(vtpr() == 0x20, "... after the write (VTPR 0x%x)", vtpr());

	set_vtpr(0x60);
	r = apic_run(ga_read64, WIN_APIC + 0x80, 0, 1, 0, 0);
	check_exit("64-bit read of offset 0x80 exits", r, EXIT_REASON_APIC_ACCESS, 0x80 | Q_READ, A(ga_read64_i));
	r = apic_run(ga_read, WIN_APIC + 0x84, 0, 1, 0, 0);
	check_exit("read of offset 0x84 with use TPR shadow exits", r, EXIT_REASON_APIC_ACCESS, 0x84 | Q_READ,
		   A(ga_read_i));
	r = apic_run(ga_write, WIN_APIC + 0xb0, 0, 1, 0, 0);
	check_exit("write of offset 0xb0 (EOI) with use TPR shadow exits", r, EXIT_REASON_APIC_ACCESS,
		   0xb0 | Q_WRITE, A(ga_write_i));
}

/* ---- 7. under EPT: the guest-physical page that maps to it ---- */

static void test_ept(void)
{
	int r;

	set_vtpr(0x90);
	r = apic_run(ga_read, WIN_EPT + 0x30, 0, 1, 0, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID);
	check_exit("EPT: read of GPA 0xfee00030, mapped to the APIC-access page", r, EXIT_REASON_APIC_ACCESS,
		   0x30 | Q_READ, A(ga_read_i));
	r = apic_run(ga_read, WIN_EPT + 0x80, 0, 1, 0, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID);
	check_vmcall("EPT: read of GPA 0xfee00080 with use TPR shadow", r);
	report(g_out == 0x90, "... returns VTPR (0x%lx)", (unsigned long)g_out);
	/* The APIC-access page's own guest-physical address is identity
	 * mapped to it as well: it exits through that mapping too. */
	r = apic_run(ga_write, WIN_APIC + 0x40, 0, 1, 0, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID);
	check_exit("EPT: write through the identity mapping of the page", r, EXIT_REASON_APIC_ACCESS,
		   0x40 | Q_WRITE, A(ga_write_i));
}

/* ---- 8. "virtualize x2APIC mode" (SDM 29.5) ---- */

static void x2_run(void *entry, uint32_t msr, uint64_t val, uint32_t thr)
{
	g_a = msr;
	g_b = (uint32_t)val;
	g_c = val >> 32;
	setup(entry, 1, thr, SECONDARY_VIRTUALIZE_X2APIC);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_USE_MSR_BITMAPS, 0);
	vmwrite(VMCS_MSR_BITMAP, A(msr_bitmap));
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << 13);
}

static void test_x2apic(void)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
	int r;

	report(!(base & (1u << 10)), "the LAPIC is in xAPIC mode (IA32_APIC_BASE 0x%lx)", (unsigned long)base);
	memset(msr_bitmap, 0, sizeof(msr_bitmap));
	set_vtpr(0x40);
	*(volatile uint32_t *)&vapic[0x84] = 0x12345678;
	x2_run(ga_rdmsr, MSR_X2APIC_TPR, 0, 0);
	r = vmx_enter(0);
	check_vmcall("RDMSR 0x808 with virtualize x2APIC mode (LAPIC in xAPIC mode)", r);
	report(g_out == 0x40 && g_out2 == 0x12345678, "... EDX:EAX = bytes 87H:80H of the virtual-APIC page "
	       "(EAX 0x%lx, EDX 0x%lx)", (unsigned long)g_out, (unsigned long)g_out2);

	x2_run(ga_wrmsr, MSR_X2APIC_TPR, 0x70, 0);
	r = vmx_enter(0);
	check_vmcall("WRMSR 0x808 of 0x70", r);
	report(vtpr() == 0x70 && *(volatile uint32_t *)&vapic[0x84] == 0,
	       "... writes bytes 87H:80H (VTPR 0x%x, bytes 87H:84H 0x%x)", vtpr(),
	       *(volatile uint32_t *)&vapic[0x84]);
	report(cr8_read() == 0, "... not the physical TPR (CR8 %u)", cr8_read());

	set_vtpr(0x70);
	x2_run(ga_wrmsr, MSR_X2APIC_TPR, 0x10, 2);
	r = vmx_enter(0);
	check_exit("WRMSR 0x808 of 0x10 with TPR threshold 2", r, EXIT_REASON_TPR_BELOW_THRESHOLD, 0,
		   A(ga_wrmsr_after));
	report(vtpr() == 0x10, "... after the write (VTPR 0x%x)", vtpr());

	set_vtpr(0x70);
	x2_run(ga_wrmsr, MSR_X2APIC_TPR, 0x100, 0);
	r = vmx_enter(0);
	check_exit("WRMSR 0x808 setting bit 8", r, EXIT_REASON_EXCEPTION_NMI, 0, A(ga_wrmsr_i));
	report((vmread(VMCS_EXIT_INTR_INFO) & 0xff) == 13 && vtpr() == 0x70, "... is #GP (info 0x%lx), VTPR 0x%x",
	       (unsigned long)vmread(VMCS_EXIT_INTR_INFO), vtpr());

	/* The bitmap decides first (SDM 25.1.3). */
	msr_bitmap[MSR_X2APIC_TPR / 8] |= 1u << (MSR_X2APIC_TPR % 8);
	x2_run(ga_rdmsr, MSR_X2APIC_TPR, 0, 0);
	r = vmx_enter(0);
	check_exit("RDMSR 0x808 with its read bit set", r, EXIT_REASON_MSR_READ, 0, A(ga_rdmsr_i));
	msr_bitmap[MSR_X2APIC_TPR / 8] = 0;

	/* Other x2APIC MSRs behave as without it: the LAPIC is not in
	 * x2APIC mode, so RDMSR of the PPR (0x80a) raises #GP. */
	x2_run(ga_rdmsr, 0x80a, 0, 0);
	r = vmx_enter(0);
	check_exit("RDMSR 0x80a (PPR) with virtualize x2APIC mode", r, EXIT_REASON_EXCEPTION_NMI, 0, A(ga_rdmsr_i));
	report((vmread(VMCS_EXIT_INTR_INFO) & 0xff) == 13, "... is #GP (info 0x%lx)",
	       (unsigned long)vmread(VMCS_EXIT_INTR_INFO));

	/* Without the control, RDMSR 0x808 in xAPIC mode is #GP too. */
	x2_run(ga_rdmsr, MSR_X2APIC_TPR, 0, 0);
	vmwrite(VMCS_PROC_BASED_CTLS2, 0);
	r = vmx_enter(0);
	check_exit("RDMSR 0x808 without virtualize x2APIC mode", r, EXIT_REASON_EXCEPTION_NMI, 0, A(ga_rdmsr_i));
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		report_skip("no VMX");
		return;
	}
	maxphyaddr = cpuid(0x80000008, 0).eax & 0xff;
	if (!report(vmx_on() == 0, "VMXON succeeds"))
		return;
	if (!test_caps())
		guest_exit(report_summary());
	tables_build();
	test_cr8();
	test_entry_threshold();
	test_entry_checks();
	test_apic_access();
	test_vtpr_page();
	test_ept();
	test_x2apic();
	report(vmxoff() == 0, "VMXOFF succeeds");
	guest_exit(report_summary());
}
