/* Loading architectural state Unicorn's register API cannot load.
 *
 * Unicorn 2.1 will not reload the hidden segment-descriptor caches or the
 * mode flags from the host (DESIGN.md, "Loading CPU mode from the host is
 * not possible through the register API"), and it never clears its own
 * "exception in flight" marker because QEMU's interrupt delivery does not
 * run.  This file edits the saved CPU context (QEMU's CPUX86State after a
 * header) at offsets found by experiment at start-up and self-checked
 * there; nothing else in hvsim touches the context layout. */
#ifndef SIM_CPU_CPU_STATE_H
#define SIM_CPU_CPU_STATE_H

#include <stdint.h>
#include <unicorn/unicorn.h>

/* Segment-descriptor cache, attribute bits laid out as in the descriptor's
 * high dword (SDM Vol. 3 3.4.5): type 8-11, S 12, DPL 13-14, P 15, AVL 20,
 * L 21, D/B 22, G 23.  The limit is the expanded byte limit. */
struct cpu_seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit;
	uint32_t attr;
};

#define SEG_ATTR_TYPE(a) (((a) >> 8) & 0xf)
#define SEG_ATTR_S (1u << 12)
#define SEG_ATTR_DPL(a) (((a) >> 13) & 3)
#define SEG_ATTR_P (1u << 15)
#define SEG_ATTR_L (1u << 21)
#define SEG_ATTR_DB (1u << 22)
#define SEG_ATTR_G (1u << 23)

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NSEGS };

/* The system state a mode change loads in one go. */
struct cpu_sysstate {
	struct cpu_seg seg[SEG_NSEGS];
	struct cpu_seg ldt, tr;
	uint64_t gdt_base, idt_base;
	uint32_t gdt_limit, idt_limit;
	uint64_t cr0, cr3, cr4, efer;
	unsigned cpl;
	uint64_t rflags;	/* for the mode flags only; the caller writes RFLAGS */
};

struct cpu_ctx;

int cpu_ctx_calibrate(void);	/* idempotent; 0 or -ENOTSUP with a message */
struct cpu_ctx *cpu_ctx_new(uc_engine *uc);
void cpu_ctx_free(struct cpu_ctx *x);

/* Read the whole system state (segments with caches, CRs, EFER, CPL). */
int cpu_ctx_read(struct cpu_ctx *x, struct cpu_sysstate *s);
/* What becomes of the engine's softmmu TLB when state is loaded.
 *
 * Unicorn's TLB is a host cache of translations (with the permissions
 * computed from CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE and the paging
 * structures), indexed by QEMU's MMU index, which follows the CPL and
 * RFLAGS.AC at every access: a CPL change needs no flush.  A state whose
 * translation regime differs (cpu_ctx_write's list) must not find entries
 * made under the old one.  Whether translations made under the *same*
 * regime survive is the architecture's call (SDM Vol. 3A 4.10.4, Vol. 3C
 * 29.4.3): the caller knows, this file does not. */
enum cpu_tlb {
	CPU_TLB_KEEP,		/* keep every entry: VM entry with VPID-tagged ones kept */
	CPU_TLB_IF_REMAPPED,	/* flush only if the translation regime changes */
	CPU_TLB_FLUSH,		/* always flush (VPID 0 transitions, reset) */
};

/* Load it: segment caches, descriptor tables, CR0/3/4, EFER and the mode
 * flags derived from them; then the TLB as `tlb` says. */
int cpu_ctx_write(struct cpu_ctx *x, const struct cpu_sysstate *s, enum cpu_tlb tlb);
/* CR2.  Unicorn 2.1.1's register API loads CR3 (and flushes the TLB) on
 * a CR2 write; this does neither. */
int cpu_ctx_set_cr2(struct cpu_ctx *x, uint64_t cr2);
/* Blocking of interrupts by STI or MOV SS for the next instruction
 * (QEMU's HF_INHIBIT_IRQ; the two are one flag there). */
int cpu_ctx_inhibited(struct cpu_ctx *x);
int cpu_ctx_set_inhibited(struct cpu_ctx *x, int on);
/* After Unicorn reported a fault: its error code, whether it was a
 * software interrupt, and clear the in-flight marker so the next fault is
 * not mistaken for a nested one. */
int cpu_ctx_take_fault(struct cpu_ctx *x, uint32_t *error_code, int *is_soft);
/* XCR0 (SDM Vol. 1 13.3), which Unicorn's register API does not offer;
 * no checks: XSETBV's are the caller's. */
int cpu_ctx_set_xcr0(struct cpu_ctx *x, uint64_t xcr0);
/* Code size of the current CS: 16, 32 or 64. */
unsigned cpu_ctx_code_bits(struct cpu_ctx *x);

/* Descriptor (8 bytes, little-endian) -> cache; base/limit expanded. */
void cpu_seg_from_desc(uint64_t desc, uint16_t sel, struct cpu_seg *s);

#endif
