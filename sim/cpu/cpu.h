/* One logical processor: an x86-64 core executed by a Unicorn engine,
 * priced per block from Capstone's decode and the profile.
 *
 * sim/cpu/ is the only code that includes Unicorn or Capstone; everything
 * else sees the opaque struct cpu below.  The CPU implements what Unicorn
 * does not (DESIGN.md "Instructions Unicorn does not do for us"): MSRs and
 * RDTSC/RDTSCP at pre-scanned sites, CPUID from the profile, exception and
 * interrupt delivery through the IDT in real, protected and long mode,
 * HLT as an idle state. */
#ifndef SIM_CPU_CPU_H
#define SIM_CPU_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "memmap.h"
#include "profile.h"

struct cpu;
struct lapic;
struct trace_writer;

enum cpu_run_state {
	CPU_RUNNING,
	CPU_HALTED,	/* HLT: idle until an interrupt can wake it */
	CPU_WAIT_SIPI,	/* application processor after reset (SDM Vol. 3 8.4) */
	CPU_SHUTDOWN,	/* triple fault or unrecoverable host error: the LP stops */
};

struct cpu_stats {
	uint64_t instructions;	/* retired, counted per block */
	uint64_t cycles;	/* LP clock (includes idle) */
	uint64_t busy_cycles;	/* cycles spent executing */
	uint64_t halted_cycles;
	uint64_t blocks;	/* blocks executed */
	uint64_t blocks_decoded;	/* distinct blocks priced */
	uint64_t exceptions;	/* delivered through the IDT */
	uint64_t msr_accesses;
	uint64_t io_accesses;
};

/* VMX transitions of one LP (vmx.c).  Per basic exit reason: the exits,
 * and the cycles from each exit to the next VM entry, both transitions
 * and everything the LP did in root operation in between included. */
#define CPU_VMX_REASONS 86	/* basic exit reasons 0-85 (SDM Appendix C) */
struct cpu_vmx_reason_stats {
	uint64_t count, cycles;
};
struct cpu_vmx_stats {
	uint64_t entries, failed_entries, exits;
	uint64_t entry_cycles, exit_cycles;	/* transition costs charged */
	uint64_t tlb_fills, ept_entry_reads;	/* non-root TLB misses, EPT entries they read */
	struct cpu_vmx_reason_stats reason[CPU_VMX_REASONS];
};

/* What the hypervisor's markers (include/hv/marker.h) tell about the
 * hypercalls and partitions on one LP (marks.c).  Each hypercall's total
 * runs from its VMCALL to the next VM entry and splits into the exit
 * transition, the hypervisor's dispatch up to the handler body, the body,
 * and the return through the VM entry; the four sum to the total. */
struct cpu_hcall {
	uint64_t cycle;		/* LP clock at the VMCALL */
	uint64_t partition;
	uint32_t vp;
	uint16_t code, status;
	uint32_t reps;		/* completed by this invocation */
	uint32_t continued;	/* re-executed to continue (rep calls) */
	uint64_t exit, dispatch, body, entry;
};

struct cpu_part_event {
	uint64_t cycle, partition;
	uint32_t event;		/* enum hv_mark_partition_event */
};

struct cpu_part_exits {
	uint64_t partition;
	uint64_t count[CPU_VMX_REASONS];	/* VM exits by basic reason */
};

struct cpu_hv_stats {
	struct cpu_hcall *calls;
	size_t ncalls, cap_calls;
	struct cpu_part_event *events;
	size_t nevents, cap_events;
	struct cpu_part_exits *parts;
	size_t nparts, cap_parts;
};

/* Observer: callbacks at points the CPU model passes anyway, for tools
 * that watch the hypervisor work (`hvsim lab`).  Each member may be NULL;
 * with no observer set the cost is one pointer test at each point.  The
 * callbacks run on the LP's thread with the LP stopped between two
 * instructions; they may read state through the inspection functions
 * below and call cpu_request_stop(), nothing else that changes the LP. */
struct cpu_exit_info {
	uint32_t reason;	/* exit reason as written to the VMCS (bit 31: failed entry) */
	uint64_t qual;		/* exit qualification */
	uint32_t insn_len;	/* VM-exit instruction length (0 when the exit has none) */
	uint64_t guest_rip;	/* guest RIP saved by the exit */
	uint64_t cycle;		/* LP clock when the exit began */
	uint64_t cycles;	/* the exit transition's cost */
};
struct cpu_observer {
	/* A VM exit was taken: the host state is loaded, the guest's GPRs
	 * are still in the LP's registers (VMX does not switch them). */
	void (*vm_exit)(void *opaque, struct cpu *c, const struct cpu_exit_info *x);
	/* A VMWRITE in VMX root operation succeeded: `value` went to field
	 * `encoding` of the current VMCS, whose region is at `vmcs`. */
	void (*vmwrite)(void *opaque, struct cpu *c, uint64_t vmcs, uint32_t encoding, uint64_t value);
	/* A marker (include/hv/marker.h) at LP clock `cycle`; a record it
	 * points to can be read with cpu_read_linear(). */
	void (*marker)(void *opaque, struct cpu *c, unsigned id, uint64_t value, uint64_t cycle);
	/* A hypercall completed: called at the VM entry that returns from it,
	 * with the caller's state loaded (RAX holds the result). */
	void (*hypercall)(void *opaque, struct cpu *c, const struct cpu_hcall *k);
	void *opaque;
};

/* Interrupt routing (intr.c), per source kind (enum irq_source_kind in
 * sim/apic/apic.h): how many interrupts reached their handler, and each
 * stage's latency for every one of them, in picoseconds.  Stages: the
 * IO-APIC or MSI decode routed it, the LAPIC accepted it into the IRR,
 * the LP acknowledged it; for an interrupt that caused a VM exit, the exit
 * completed and the hypervisor dispatched it up to the VM entry that
 * injected it; delivery through the IDT to the handler's first
 * instruction (from the acknowledgement, or from that VM entry); the
 * handler's EOI; and the total from the source to the handler. */
enum cpu_irq_stage {
	CPU_IRQ_ROUTE,
	CPU_IRQ_ACCEPT,
	CPU_IRQ_ACK,
	CPU_IRQ_EXIT,
	CPU_IRQ_DISPATCH,
	CPU_IRQ_DELIVER,
	CPU_IRQ_EOI,
	CPU_IRQ_TOTAL,
	CPU_IRQ_STAGES
};
#define CPU_IRQ_KINDS 12
struct cpu_irq_samples {
	uint64_t *ps;
	size_t n, cap;
};
struct cpu_irq_stats {
	struct {
		uint64_t count;
		struct cpu_irq_samples stage[CPU_IRQ_STAGES];
	} kind[CPU_IRQ_KINDS];
};
const char *cpu_irq_stage_name(enum cpu_irq_stage s);
/* One latency sample of `stage` for source kind `kind` (ps). */
void cpu_irq_sample(struct cpu_irq_stats *s, unsigned kind, enum cpu_irq_stage st, uint64_t ps);

struct vflight_book;

struct cpu_config {
	unsigned index;		/* LP index = APIC id */
	unsigned nlps;		/* for CPUID topology */
	const struct cpu_profile *profile;
	struct memmap *mem;
	int bsp;		/* 1: starts running; 0: waits for SIPI */
	struct trace_writer *trace;	/* events (VM entries and exits) go here; may be NULL */
	struct lapic *lapic;	/* the LP's local APIC; NULL: none (no interrupts) */
	/* The machine's book of the hypervisor's interrupts (vflight.h),
	 * shared by every LP; NULL: the LP keeps one of its own. */
	struct vflight_book *vflights;
};

/* Checks, once per process, the Unicorn facts this CPU model rests on
 * (context layout, mode loading, fault bookkeeping).  Returns 0 or a
 * negative errno after printing what failed. */
int cpu_selfcheck(void);

struct cpu *cpu_new(const struct cpu_config *cfg);
void cpu_free(struct cpu *c);

/* Put the LP in the state a boot path asks for (loader.h). */
int cpu_boot(struct cpu *c, const struct boot_entry *e);

/* Run until the LP's cycle count reaches `until_cycles`, it halts, shuts
 * down, or cpu_request_stop() is called.  Returns the run state. */
enum cpu_run_state cpu_run(struct cpu *c, uint64_t until_cycles);
/* Lower the cycle count at which the current cpu_run returns (a device
 * event became due earlier); never raises it. */
void cpu_limit_run(struct cpu *c, uint64_t until_cycles);
/* Ask a running LP to return from cpu_run at its next block boundary. */
void cpu_request_stop(struct cpu *c);
/* The LAPIC has something for this LP (struct lapic_config.kick): it is
 * looked at by the next block boundary.  Only sets a flag. */
void cpu_irq_kick(struct cpu *c);
/* A halted or wait-for-SIPI LP looks whether what arrived wakes it
 * (an interrupt it can take, NMI, INIT, SIPI); returns the new state. */
enum cpu_run_state cpu_poll_wake(struct cpu *c);
/* The LP clock at which a halted LP wakes without any event (a VMX
 * guest's preemption timer), or UINT64_MAX. */
uint64_t cpu_wake_deadline(const struct cpu *c);
const struct cpu_irq_stats *cpu_get_irq_stats(const struct cpu *c);

enum cpu_run_state cpu_state(const struct cpu *c);
uint64_t cpu_cycles(const struct cpu *c);
/* Idle the LP's clock forward (HLT, wait-for-SIPI) to `cycles`. */
void cpu_idle_until(struct cpu *c, uint64_t cycles);
const struct cpu_stats *cpu_get_stats(const struct cpu *c);
const struct cpu_vmx_stats *cpu_get_vmx_stats(const struct cpu *c);
const struct cpu_hv_stats *cpu_get_hv_stats(const struct cpu *c);
/* "vmcall", "ept_violation", ... for a basic exit reason; NULL if undefined. */
const char *cpu_vmx_exit_reason_name(unsigned reason);
unsigned cpu_index(const struct cpu *c);
/* Why the LP shut down (NULL if it did not). */
const char *cpu_shutdown_reason(const struct cpu *c);

/* Set (copied) or, with NULL, remove the LP's observer. */
void cpu_set_observer(struct cpu *c, const struct cpu_observer *o);

/* Inspection, for observers and tools (inspect.c).  Each returns 0 or a
 * negative errno.  Linear addresses are translated as the LP would now:
 * through the guest's paging and EPT in VMX non-root operation. */
int cpu_read_phys(struct cpu *c, uint64_t pa, void *buf, size_t n);
int cpu_read_linear(struct cpu *c, uint64_t lin, void *buf, size_t n);
/* The current-VMCS pointer (~0 when there is none), and a VMREAD of it
 * that ignores the capabilities (-ENOENT: no current VMCS or no such
 * field). */
uint64_t cpu_vmcs_current(const struct cpu *c);
int cpu_vmcs_read(struct cpu *c, uint32_t encoding, uint64_t *v);
/* Every field of the VMCS table in encoding order: its encoding and
 * lower-case name (i = 0, 1, ... until it returns -ENOENT). */
int cpu_vmcs_field(size_t i, uint32_t *encoding, const char **name);
const char *cpu_vmcs_field_name(uint32_t encoding);	/* NULL if unknown */
/* Disassemble up to `count` instructions at linear address `lin` in the
 * LP's current mode, one "ADDRESS: BYTES  MNEMONIC OPERANDS\n" line each,
 * into `out`.  Returns the number of instructions, or -errno. */
int cpu_disas(struct cpu *c, uint64_t lin, unsigned count, char *out, size_t outlen);

/* Register snapshot for reports and tests. */
struct cpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, cr0, cr2, cr3, cr4, efer;
	uint16_t cs, ss;
};
void cpu_get_regs(struct cpu *c, struct cpu_regs *r);

#endif
