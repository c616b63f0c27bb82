/* What the hypervisor test children built on partitions/child's runtime
 * (stimer_child.c, vapic_child.c, xapic_child.c, apic_timer_child.c)
 * share: an IDT of their own, a #GP handler that counts and skips a
 * faulting RDMSR, WRMSR or MOV to CR0 from RAX, MSR and CR0 writes that
 * report whether they faulted, hypercalls through the page, starting a
 * VP, and an interrupt window.  Included once per image. */
#ifndef HVT_CHILD_IDT_H
#define HVT_CHILD_IDT_H

#include <stdbool.h>
#include <stdint.h>

#define CHILD_IDT_VEC_GP 13
#define CHILD_IDT_CODE_SEL 0x08		/* childboot.h */

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));

volatile uint32_t gp_count;

void isr_gp(void);

/* #GP: only from RDMSR (0F 32), WRMSR (0F 30) or MOV CR0, RAX (0F 22
 * C0), which it skips; any other #GP stops the child (the root reports
 * it did not finish). */
asm(".text\n"
    "isr_gp:\n\t"
    "addq $8, %rsp\n\t"			/* the error code */
    "pushq %rax\n\t"
    "movq 8(%rsp), %rax\n\t"		/* RIP */
    "cmpb $0x0f, (%rax)\n\t"
    "jne 1f\n\t"
    "cmpb $0x30, 1(%rax)\n\t"
    "je 2f\n\t"
    "cmpb $0x32, 1(%rax)\n\t"
    "je 2f\n\t"
    "cmpw $0xc022, 1(%rax)\n\t"
    "jne 1f\n\t"
    "incq 8(%rsp)\n"
    "2:\n\t"
    "addq $2, 8(%rsp)\n\t"
    "incl gp_count(%rip)\n\t"
    "popq %rax\n\t"
    "iretq\n"
    "1:\n\t"
    "cli\n\t"
    "hlt\n\t"
    "jmp 1b\n");

/* An interrupt handler `name` that saves the caller-saved registers
 * around `call` (assembly, e.g. "call some_c_function") and returns with
 * IRETQ. */
#define HVT_ISR_STUB(name, call)                                                   \
	void name(void);                                                           \
	asm(".text\n" #name ":\n\t"                                                \
	    "pushq %rax; pushq %rcx; pushq %rdx; pushq %rsi; pushq %rdi\n\t"       \
	    "pushq %r8; pushq %r9; pushq %r10; pushq %r11\n\t" call "\n\t"         \
	    "popq %r11; popq %r10; popq %r9; popq %r8\n\t"                         \
	    "popq %rdi; popq %rsi; popq %rdx; popq %rcx; popq %rax\n\t"            \
	    "iretq\n")

static inline void set_gate(unsigned v, void (*fn)(void))
{
	uint64_t a = (uint64_t)(uintptr_t)fn;

	idt[v] = (struct idt_gate){ .off0 = (uint16_t)a, .sel = CHILD_IDT_CODE_SEL, .type = 0x8e,
				    .off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32) };
}

/* Each VP loads the one IDT. */
static inline void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	asm volatile("lidt %0" : : "m"(d));
}

/* WRMSR/RDMSR that report whether they raised #GP. */
static inline bool wrmsr_gp(uint32_t msr, uint64_t v)
{
	uint32_t before = gp_count;

	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	return gp_count != before;
}

/* MOV to CR0 (from RAX, 0F 22 C0) that reports whether it raised #GP. */
static inline bool write_cr0_gp(uint64_t v)
{
	uint32_t before = gp_count;

	asm volatile(".byte 0x0f, 0x22, 0xc0" : : "a"(v) : "memory");
	return gp_count != before;
}

static inline bool rdmsr_gp(uint32_t msr, uint64_t *v)
{
	uint32_t before = gp_count, lo = 0, hi = 0;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	*v = (uint64_t)hi << 32 | lo;
	return gp_count != before;
}

/* HvCallStartVirtualProcessor of VP `index` of the caller's own partition
 * at `fn` with stack `rsp`, in the caller's 64-bit context (control
 * registers, EFER, PAT, GDT, IDT; flat CS 0x08, data 0x10, TR 0x18 at
 * CHILD_TSS, childboot.h), through the hypercall page `page` with the
 * input built in the page `in`: RAX. */
static inline uint64_t hvt_start_vp_at(const void *page, void *in, uint32_t index, void (*fn)(void), uint64_t rsp)
{
	struct hv_input_start_virtual_processor c = { .partition_id = HV_PARTITION_ID_SELF, .vp_index = index };
	struct hv_initial_vp_context *x = &c.vp_context;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr, idtr;

	asm volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	x->rip = (uint64_t)(uintptr_t)fn;
	x->rsp = rsp;
	x->rflags = 2;
	x->cr0 = read_cr0();
	x->cr3 = read_cr3();
	x->cr4 = read_cr4();
	x->efer = rdmsr(MSR_EFER);
	x->msr_cr_pat = rdmsr(MSR_IA32_PAT);
	x->cs = (struct hv_x64_segment_register){ .base = 0, .limit = 0xffffffff, .selector = 0x08, .attributes = 0xa09b };
	x->ds = x->es = x->ss = (struct hv_x64_segment_register){ .limit = 0xffffffff, .selector = 0x10,
								   .attributes = 0xc093 };
	x->fs = x->gs = x->ds;
	x->tr = (struct hv_x64_segment_register){ .base = CHILD_TSS, .limit = 0x67, .selector = 0x18, .attributes = 0x8b };
	x->gdtr.base = gdtr.base;
	x->gdtr.limit = gdtr.limit;
	x->idtr.base = idtr.base;
	x->idtr.limit = idtr.limit;
	memcpy(in, &c, sizeof(c));
	return child_hv_call_at(page, HVCALL_START_VIRTUAL_PROCESSOR, (uint64_t)(uintptr_t)in, 0);
}

/* Map the xAPIC page at 0xFEE00000 (a 2 MiB page, PCD|PWT) in the page
 * tables the image runs on, through the page directory `pd` (the image's
 * own page, for the 1 GiB at 3 GiB). */
static inline void hvt_map_apic(uint64_t *pd)
{
	uint64_t *pml4 = (uint64_t *)(uintptr_t)(read_cr3() & ~0xfffull);
	uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & 0x000ffffffffff000ull);

	pd[(0xfee00000ull >> 21) & 511] = 0xfee00000ull | 0x9b;	/* P RW PWT PCD PS */
	pdpt[3] = (uint64_t)(uintptr_t)pd | 3;
	write_cr3(read_cr3());
}

/* An interrupt window: the CPU takes interrupts at block boundaries. */
static inline void window(void)
{
	asm volatile("sti; nop; jmp 1f; 1: nop; cli" ::: "memory");
}

#endif
