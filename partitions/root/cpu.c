/* Segments, task state, interrupt descriptors and SYSCALL: what makes
 * ring 3 possible (SDM Vol. 3A chapters 3, 5, 6 and 8).
 *
 * GDT (the layout SYSCALL/SYSRET dictate, SDM Vol. 3A 5.8.8):
 *
 *   0x00  null
 *   0x08  kernel code, 64-bit, DPL 0     STAR[47:32]: SYSCALL CS
 *   0x10  kernel data, DPL 0             SYSCALL SS = STAR[47:32] + 8
 *   0x18  null: 32-bit user code slot   STAR[63:48] (with RPL 3) = 0x1b;
 *         left empty, no user code runs in compatibility mode
 *   0x20  user data, DPL 3               SYSRET SS = STAR[63:48] + 8 = 0x23
 *   0x28  user code, 64-bit, DPL 3       SYSRET CS = STAR[63:48] + 16 = 0x2b
 *   0x30  64-bit TSS (two slots)
 *
 * The TSS supplies RSP0 (the current process's kernel stack, for
 * exceptions taken in ring 3) and IST1 (a stack of its own for #DF, so a
 * kernel stack overflow still reports itself); it has no I/O permission
 * bitmap, so with IOPL 0 every port faults in ring 3.  The IDT holds
 * interrupt gates (IF cleared on entry), DPL 0 so INT n from ring 3 is a
 * #GP: vectors 0-31 here, 32-255 from rk_irq_init (irq.c). */
#include "kernel.h"

#define GDT_USER32_CS 0x18

/* Segment descriptors (SDM Vol. 3A 3.4.5): G, L/D, P, DPL, S, type. */
#define DESC_KERNEL_CODE64 0x00af9a000000ffffull	/* P, DPL 0, execute/read, L = 1 */
#define DESC_KERNEL_DATA 0x00cf92000000ffffull	/* P, DPL 0, read/write */
#define DESC_USER_DATA 0x00cff2000000ffffull	/* P, DPL 3, read/write */
#define DESC_USER_CODE64 0x00affa000000ffffull	/* P, DPL 3, execute/read, L = 1 */
#define DESC_TSS_AVAIL 0x9ull			/* 64-bit TSS, available (Vol. 3A table 3-2) */
#define GATE_INTR64 0xeull			/* 64-bit interrupt gate */

#define STAR_SYSRET_BASE (GDT_USER32_CS | 3)

_Static_assert(((STAR_SYSRET_BASE + 16) | 3) == RK_USER_CS, "SYSRET CS is STAR[63:48] + 16");
_Static_assert(((STAR_SYSRET_BASE + 8) | 3) == RK_USER_DS, "SYSRET SS is STAR[63:48] + 8");
_Static_assert(RK_KERNEL_CS + 8 == RK_KERNEL_DS, "SYSCALL SS is STAR[47:32] + 8");
_Static_assert(offsetof(struct rk_percpu, kernel_rsp) == RK_PERCPU_KERNEL_RSP, "entry.S offset");
_Static_assert(offsetof(struct rk_percpu, user_rsp) == RK_PERCPU_USER_RSP, "entry.S offset");
_Static_assert(sizeof(struct rk_frame) == RK_FRAME_SIZE, "entry.S frame size");
_Static_assert(offsetof(struct rk_frame, vector) == RK_FRAME_VECTOR, "entry.S offset");
_Static_assert(offsetof(struct rk_frame, rip) == RK_FRAME_RIP, "entry.S offset");
_Static_assert(offsetof(struct rk_frame, cs) == RK_FRAME_CS, "entry.S offset");
_Static_assert(offsetof(struct rk_frame, rflags) == RK_FRAME_RFLAGS, "entry.S offset");
_Static_assert(offsetof(struct rk_frame, rsp) == RK_FRAME_RSP, "entry.S offset");

/* 64-bit TSS (SDM Vol. 3A 8.7, figure 8-11). */
struct rk_tss {
	uint32_t reserved0;
	uint64_t rsp[3];	/* stack for a switch to ring 0, 1, 2 */
	uint64_t reserved1;
	uint64_t ist[7];	/* IST1..IST7 */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iopb;		/* I/O permission bitmap offset: past the limit = none */
} __attribute__((packed));
_Static_assert(sizeof(struct rk_tss) == 104, "64-bit TSS is 104 bytes");

struct rk_dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define GDT_ENTRIES 8
#define IDT_VECTORS 256

static uint64_t rk_gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static uint64_t rk_idt[IDT_VECTORS * 2] __attribute__((aligned(16)));
static struct rk_tss rk_tss __attribute__((aligned(16)));
struct rk_percpu rk_cpu0;

static uint64_t rk_star, rk_fmask;

static void rk_gdt_build(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&rk_tss, limit = sizeof(rk_tss) - 1;

	rk_gdt[0] = 0;
	rk_gdt[RK_KERNEL_CS / 8] = DESC_KERNEL_CODE64;
	rk_gdt[RK_KERNEL_DS / 8] = DESC_KERNEL_DATA;
	rk_gdt[GDT_USER32_CS / 8] = 0;
	rk_gdt[RK_USER_DS / 8] = DESC_USER_DATA;
	rk_gdt[RK_USER_CS / 8] = DESC_USER_CODE64;
	/* TSS descriptor in 64-bit mode, 16 bytes (SDM Vol. 3A 8.2.3). */
	rk_gdt[RK_TSS_SEL / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (DESC_TSS_AVAIL << 40) |
				 (1ull << 47) | (((limit >> 16) & 0xf) << 48) |
				 (((base >> 24) & 0xff) << 56);
	rk_gdt[RK_TSS_SEL / 8 + 1] = base >> 32;
}

/* 64-bit IDT gate descriptor (SDM Vol. 3A 6.14.1, figure 6-8). */
static void rk_idt_set(unsigned vec, uint64_t handler, unsigned ist)
{
	rk_idt[vec * 2] = (handler & 0xffff) | ((uint64_t)RK_KERNEL_CS << 16) | ((uint64_t)(ist & 7) << 32) |
			  (GATE_INTR64 << 40) | (1ull << 47) | (((handler >> 16) & 0xffff) << 48);
	rk_idt[vec * 2 + 1] = handler >> 32;
}

static void rk_load_segments(void)
{
	struct rk_dtr gdtr = { sizeof(rk_gdt) - 1, (uint64_t)(uintptr_t)rk_gdt };

	asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
	/* A far return reloads CS from our table. */
	asm volatile("pushq %[cs]\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:"
		     : : [cs] "i"(RK_KERNEL_CS) : "rax", "memory");
	asm volatile("movw %w0, %%ds\n\t"
		     "movw %w0, %%es\n\t"
		     "movw %w0, %%ss\n\t"
		     "movw %w1, %%fs\n\t"
		     "movw %w1, %%gs"
		     : : "r"(RK_KERNEL_DS), "r"(0) : "memory");
	asm volatile("ltr %w0" : : "r"(RK_TSS_SEL) : "memory");
}

void rk_cpu_init(void)
{
	struct rk_dtr idtr = { sizeof(rk_idt) - 1, (uint64_t)(uintptr_t)rk_idt };

	rk_gdt_build();
	rk_tss.iopb = sizeof(rk_tss);
	rk_tss.ist[0] = (uint64_t)(uintptr_t)rk_kstack_top(RK_KSTACK_DF);
	rk_tss.rsp[0] = (uint64_t)(uintptr_t)rk_kstack_top(RK_KSTACK_SCHED);
	rk_load_segments();

	for (unsigned v = 0; v < 32; v++)
		rk_idt_set(v, rk_exc_stubs[v], v == 8 ? 1 : 0);	/* #DF on IST1 */
	/* Vectors 32-255 stay not present (a #NP if taken) until
	 * rk_irq_init gives them their stubs. */
	asm volatile("lidt %0" : : "m"(idtr) : "memory");

	/* GS: the per-CPU block in ring 0, the user's (0) in ring 3. */
	rk_cpu0.kernel_rsp = rk_tss.rsp[0];
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&rk_cpu0);
	wrmsr(MSR_KERNEL_GS_BASE, 0);

	/* SYSCALL/SYSRET (SDM Vol. 3A 5.8.8). */
	rk_star = ((uint64_t)STAR_SYSRET_BASE << 48) | ((uint64_t)RK_KERNEL_CS << 32);
	rk_fmask = X86_RFLAGS_IF | X86_RFLAGS_DF | RK_RFLAGS_TF | RK_RFLAGS_AC | RK_RFLAGS_NT;
	wrmsr(MSR_STAR, rk_star);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)rk_syscall_entry);
	wrmsr(MSR_CSTAR, 0);	/* no compatibility-mode user code */
	wrmsr(MSR_FMASK, rk_fmask);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);

	rk_printf("root: GDT %p: kernel CS 0x%x SS 0x%x, user CS 0x%x SS 0x%x, TSS 0x%x "
		  "(RSP0 per process, IST1 for #DF); IDT %p: exceptions 0-31\n",
		  (void *)rk_gdt, RK_KERNEL_CS, RK_KERNEL_DS, RK_USER_CS, RK_USER_DS, RK_TSS_SEL,
		  (void *)rk_idt);
	rk_printf("root: SYSCALL: STAR 0x%016lx LSTAR %p FMASK 0x%lx\n", (unsigned long)rk_star,
		  (void *)rk_syscall_entry, (unsigned long)rk_fmask);
}

void rk_cpu_set_gate(unsigned vec, uint64_t handler)
{
	if (vec >= 32 && vec < IDT_VECTORS)
		rk_idt_set(vec, handler, 0);
}

void rk_cpu_set_kernel_stack(uint64_t top)
{
	rk_tss.rsp[0] = top;
	rk_cpu0.kernel_rsp = top;
}

uint64_t rk_cpu_star(void)
{
	return rk_star;
}

uint64_t rk_cpu_fmask(void)
{
	return rk_fmask;
}

uint16_t rk_cpu_str(void)
{
	uint16_t tr;

	asm volatile("str %0" : "=r"(tr));
	return tr;
}

const void *rk_cpu_gdt(void)
{
	return rk_gdt;
}
