/* The root kernel's internal interfaces (README.md has the overview).
 *
 * Prefix rk_ ("root kernel").  Files: console.c (output, PASS/FAIL, exit),
 * cpu.c (GDT, TSS, IDT, SYSCALL MSRs, per-CPU data), mm.c (page
 * allocator, page tables, user copies), elf.c (ELF image checks), proc.c
 * (processes, scheduler), syscall.c (the system-call table), trap.c
 * (exceptions), entry.S (every path between the CPU and C), main.c
 * (boot and the self-test).
 *
 * The first part is shared with entry.S: constants only. */
#ifndef RK_KERNEL_H
#define RK_KERNEL_H

#include "abi.h"

#define RK_PAGE RK_U64(0x1000)
#define RK_2M RK_U64(0x200000)
#define RK_GIB RK_U64(0x40000000)

/* Kernel stacks live in one array of slots, each an unmapped guard page
 * followed by the stack, so an overflow faults instead of corrupting its
 * neighbour (and the fault, which cannot be pushed on that stack, becomes
 * a #DF on the IST stack).  Slot 0: the boot and scheduler stack; slot 1:
 * the #DF stack (TSS IST1); slots 2...: one per process. */
#define RK_MAX_PROCS 8
#define RK_KSTACK_SIZE 0x4000
#define RK_KSTACK_SLOT (0x1000 + RK_KSTACK_SIZE)
#define RK_KSTACK_SCHED 0
#define RK_KSTACK_DF 1
#define RK_KSTACK_PROC0 2
#define RK_KSTACK_SLOTS (RK_KSTACK_PROC0 + RK_MAX_PROCS)

/* struct rk_frame, for entry.S */
#define RK_FRAME_SYSCALL 0x100	/* `vector` of a frame built by SYSCALL entry */
#define RK_FRAME_SIZE (22 * 8)
#define RK_FRAME_VECTOR (15 * 8)
#define RK_FRAME_RIP (17 * 8)
#define RK_FRAME_CS (18 * 8)
#define RK_FRAME_RFLAGS (19 * 8)
#define RK_FRAME_RSP (20 * 8)

/* struct rk_percpu, for entry.S */
#define RK_PERCPU_KERNEL_RSP 0
#define RK_PERCPU_USER_RSP 8

#define RK_TSS_SEL 0x30		/* the GDT's 64-bit TSS descriptor (cpu.c) */

/* Interrupt vectors (irq.c): 32-255 each have a stub of
 * RK_IRQ_STUB_SIZE bytes in entry.S (rk_irq_stubs). */
#define RK_FIRST_IRQ_VECTOR 32
#define RK_IRQ_STUB_SIZE 16
#define RK_VEC_TICK 0x30	/* the PIT's tick */
#define RK_VEC_SPURIOUS 0xff	/* the LAPIC's spurious vector */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/bootinfo.h>

#include "fw_format.h"
#include "fw_string.h"
#include "fw_uart.h"
#include "fw_x86.h"

/* RFLAGS bits fw_x86.h does not name (SDM Vol. 1 3.4.3). */
#define RK_RFLAGS_TF (1ull << 8)
#define RK_RFLAGS_NT (1ull << 14)
#define RK_RFLAGS_AC (1ull << 18)
#define RK_RFLAGS_RSVD1 (1ull << 1)	/* always 1 */

/* Errors only the kernel reports (Linux errno values, negated). */
#define RK_ENOEXEC 8		/* not an image this kernel runs */
#define RK_EAGAIN 11		/* the process table is full */
#define RK_ENOMEM 12		/* no page left */

extern char rk_kstacks[];	/* entry.S: RK_KSTACK_SLOTS slots */

/* The kernel's map of RAM is the identity (mm.c). */
static inline void *rk_va(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

static inline uint64_t rk_kstack_top(unsigned slot)
{
	return (uint64_t)(uintptr_t)rk_kstacks + (uint64_t)(slot + 1) * RK_KSTACK_SLOT;
}

/* ---- console.c ---- */

#define RK_DEBUG_EXIT_PORT 0xf4	/* isa-debug-exit: a write ends the run */
#define RK_EXIT_PASS 0
#define RK_EXIT_FAIL 1

/* Quiet (a child has the console, HV_BOOT_PART_CONSOLE): rk_printf and
 * passing reports print nothing; failures, panics and that child's
 * worker's output still do. */
void rk_console_set_quiet(bool quiet);
bool rk_console_quiet(void);
int rk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* rk_printf, quiet or not: what went wrong. */
int rk_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rk_console_write(const char *s, size_t len);
/* "PASS: msg" or "FAIL: msg"; returns pass. */
bool rk_report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned rk_report_failures(void);
unsigned rk_report_passes(void);
__attribute__((noreturn)) void rk_exit(uint32_t code);
/* A kernel invariant broke: prints "FAIL: root kernel: msg" and ends the
 * run with RK_EXIT_FAIL. */
__attribute__((noreturn, format(printf, 1, 2))) void rk_panic(const char *fmt, ...);

/* ---- cpu.c ---- */

/* What entry.S saves on the kernel stack on every entry from an exception
 * or a system call, lowest address first.  The last five quadwords are
 * the frame the CPU pushes on an exception (SDM Vol. 3A 6.14.2); a
 * SYSCALL entry builds the same frame by hand. */
struct rk_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector;	/* exception vector, or RK_FRAME_SYSCALL */
	uint64_t error_code;	/* 0 when the CPU pushes none */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Per-CPU data, reached through GS in kernel mode (SWAPGS on every entry
 * from and exit to ring 3).  entry.S uses the offsets. */
struct rk_percpu {
	uint64_t kernel_rsp;	/* RK_PERCPU_KERNEL_RSP: top of the current process's kernel stack */
	uint64_t user_rsp;	/* RK_PERCPU_USER_RSP: the user RSP at SYSCALL */
	struct rk_proc *current;
};

extern struct rk_percpu rk_cpu0;

/* Loads the kernel's GDT, TSS and IDT and programs SYSCALL (EFER.SCE,
 * STAR, LSTAR, FMASK).  Prints what it did. */
void rk_cpu_init(void);
/* Makes `top` the stack ring 0 is entered on from ring 3: TSS.RSP0 for
 * exceptions and the per-CPU slot SYSCALL entry loads. */
void rk_cpu_set_kernel_stack(uint64_t top);
uint64_t rk_cpu_star(void);
uint64_t rk_cpu_fmask(void);
uint16_t rk_cpu_str(void);		/* the task register */
/* An interrupt gate, DPL 0, no IST, for `vec` to `handler`. */
void rk_cpu_set_gate(unsigned vec, uint64_t handler);
const void *rk_cpu_gdt(void);

/* ---- mm.c ---- */

/* Page-table entry bits (SDM Vol. 3A 4.5, tables 4-14 to 4-20). */
#define RK_PTE_P (1ull << 0)
#define RK_PTE_W (1ull << 1)
#define RK_PTE_U (1ull << 2)
#define RK_PTE_PWT (1ull << 3)
#define RK_PTE_PCD (1ull << 4)
#define RK_PTE_PS (1ull << 7)
#define RK_PTE_G (1ull << 8)
#define RK_PTE_NX (1ull << 63)
#define RK_PTE_ADDR 0x000ffffffffff000ull

/* Finds usable RAM in the boot memory map, builds the kernel's page
 * tables and switches CR3 to them.  The boot area stays unused until
 * rk_mm_reclaim_boot(). */
void rk_mm_init(const struct hv_bootinfo *bi);
/* Hands the boot area (boot stack, page tables, GDT, bootinfo) to the
 * page allocator: call only once nothing uses it any more. */
void rk_mm_reclaim_boot(const struct hv_bootinfo *bi);
bool rk_mm_nx(void);		/* EFER.NXE is on: NX bits are honoured */
bool rk_mm_smep(void);		/* CR4.SMEP is on */
uint64_t rk_mm_kernel_cr3(void);

/* Physical 4 KiB pages, zeroed on allocation; 0 when none is left. */
uint64_t rk_page_alloc(void);
void rk_page_free(uint64_t pa);
uint64_t rk_pages_free(void);

/* A user address space: its own PML4, whose entry 0 is the kernel's. */
struct rk_as {
	uint64_t pml4;		/* physical address, the process's CR3 */
	uint64_t pages;		/* pages it owns: tables and user pages */
};

int rk_as_create(struct rk_as *as);
/* Maps a new zeroed user page at `va` (page aligned, in the user half)
 * with RK_PTE_W / RK_PTE_NX from `prot`; returns its physical address
 * (through which the kernel fills it), or 0 on failure. */
uint64_t rk_as_map_new(struct rk_as *as, uint64_t va, uint64_t prot);
void rk_as_destroy(struct rk_as *as);

/* User memory access: [uptr, uptr + len) must lie in the user half and
 * every page of it must be mapped user-accessible (and writable for
 * `write`) in `as`.  Returns 0 or -RK_EFAULT; the kernel never touches a
 * user address it has not checked, and never through the user mapping
 * (it copies through its own map of the physical page). */
int rk_uaccess_check(const struct rk_as *as, uint64_t uptr, uint64_t len, bool write);
int rk_copy_from_user(const struct rk_as *as, void *dst, uint64_t uptr, uint64_t len);
int rk_copy_to_user(const struct rk_as *as, uint64_t uptr, const void *src, uint64_t len);

/* ---- proc.c ---- */

enum rk_proc_state {
	RK_PROC_FREE,
	RK_PROC_RUNNABLE,
	RK_PROC_BLOCKED,	/* waits in a system call until rk_proc_wake() */
	RK_PROC_EXITED,		/* called exit() */
	RK_PROC_KILLED,		/* a fault in ring 3 */
};

/* Why a process was killed: the fault as the CPU reported it. */
struct rk_fault {
	uint64_t vector, error_code, rip, cs, cr2;
	uint8_t insn[4];	/* the bytes at RIP, when they are user memory */
	bool insn_valid;
};

struct rk_proc {
	enum rk_proc_state state;
	uint32_t pid;
	uint32_t role;
	char name[16];
	struct rk_as as;
	uint64_t entry;		/* the ELF entry point */
	uint64_t ksp;		/* saved kernel RSP while switched out */
	uint64_t kstack_top;
	uint64_t syscalls;	/* system calls made */
	int64_t exit_status;
	struct rk_fault fault;	/* valid when RK_PROC_KILLED */
};

/* What a finished process leaves behind, for the checks in main.c. */
struct rk_outcome {
	uint32_t pid, role;
	enum rk_proc_state how;
	int64_t exit_status;
	struct rk_fault fault;
	uint64_t entry, syscalls;
};

void rk_proc_init(void);
/* Creates a process from an ELF image (copied into its own pages) that
 * starts with RDI = role, RSI = pid.  Returns the pid, or a negative
 * -RK_E* value. */
int rk_proc_create(const void *image, uint64_t len, uint32_t role, const char *name);
/* Runs the runnable processes round robin until none is left; each
 * finished one is reaped and described in out[] (at most max).  Returns
 * the number described. */
unsigned rk_sched_run(struct rk_outcome *out, unsigned max);
/* From a system call: give the CPU to the next runnable process. */
void rk_proc_yield(void);
/* From a system call: the current process waits until rk_proc_wake(its
 * pid); the scheduler returns to its caller when every process left is
 * blocked. */
void rk_proc_block(void);
void rk_proc_wake(uint32_t pid);
/* From a system call or a ring-3 fault: the current process ends. */
__attribute__((noreturn)) void rk_proc_exit(int64_t status);
__attribute__((noreturn)) void rk_proc_kill(const struct rk_fault *f);
/* The order processes were dispatched in, for the round-robin check. */
unsigned rk_sched_trace(const uint32_t **pids);
void rk_sched_trace_reset(void);

/* ---- syscall.c ---- */

struct rk_syscall_stats {
	uint64_t calls;
	uint64_t bad_number;
	uint64_t user_if;		/* entries from ring 3 with IF set (all, normally) */
	uint64_t user_df_ac_tf_nt;	/* entries from ring 3 with DF, AC, TF or NT set */
	uint64_t live_flags_leaked;	/* entries whose kernel RFLAGS still had one of the five set */
	uint64_t wrong_stack;		/* entries not on the current process's kernel stack */
};
extern struct rk_syscall_stats rk_syscall_stats;

void rk_syscall(struct rk_frame *f);

/* ---- trap.c ---- */

struct rk_trap_stats {
	uint64_t user_faults;
	uint64_t wrong_stack;		/* user faults not delivered on the process's kernel stack */
};
extern struct rk_trap_stats rk_trap_stats;

const char *rk_vector_name(uint64_t vector);
void rk_trap(struct rk_frame *f);

/* ---- irq.c ---- */

struct rk_irq_stats {
	uint64_t total;		/* interrupts handled */
	uint64_t from_user;	/* of those, taken in ring 3 */
	uint64_t ticks;		/* RK_VEC_TICK */
	uint64_t spurious;	/* RK_VEC_SPURIOUS */
	uint64_t other;		/* any other vector: nobody programmed it */
};
extern struct rk_irq_stats rk_irq_stats;

/* IDT gates for vectors 32-255, the local APIC enabled, the 8259s masked
 * and the IO-APIC and the PIT's pin found in the MADT. */
void rk_irq_init(const struct hv_bootinfo *bi);
/* The PIT starts ticking at 1 kHz on its IO-APIC pin (once). */
void rk_tick_start(void);
/* STI; HLT; CLI: wait for the next interrupt with the kernel's IF = 0 on
 * either side. */
void rk_irq_wait(void);
/* Waits in HLT for three more ticks and reports (PASS/FAIL) the tick
 * count against the TSC time since rk_tick_start. */
void rk_tick_check(uint64_t tsc_khz);
/* From entry.S: the interrupt with frame `f` (vector >= 32). */
void rk_irq(struct rk_frame *f);

/* ---- entry.S ---- */

extern const uint64_t rk_exc_stubs[32];	/* entry points for vectors 0-31 */
extern const char rk_irq_stubs[];	/* vector v's stub at + (v - 32) * RK_IRQ_STUB_SIZE */
void rk_syscall_entry(void);
void rk_user_first_entry(void);	/* returns to ring 3 through the frame at RSP */
/* Saves the callee-saved registers on the current stack, stores RSP in
 * *save, switches to new_sp and returns into whatever it saved there. */
void rk_switch(uint64_t *save, uint64_t new_sp);
int rk_syscall_probe(void);	/* 1: SYSCALL goes to IA32_LSTAR */

/* ---- linker script symbols ---- */
extern char __image_start[], __text_end[], __rodata_end[], __image_end[];

/* ---- the embedded user program (user_image.S) ---- */
extern const char rk_user_image[], rk_user_image_end[];

#endif /* __ASSEMBLER__ */
#endif
