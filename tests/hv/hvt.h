/* hvt: the runtime of the hypervisor test kernels in tests/hv/.
 *
 * A test kernel is the boot module named "root": hv_model runs it as the
 * root partition, in VMX non-root operation, with the `hvsim run` handoff
 * (docs/boot.md; hv_model/root.c): 64-bit mode, identity paging of all
 * memory, CS 0x08, RDI = struct hv_bootinfo whose memory map marks the
 * hypervisor's image and pool reserved.  entry.S switches to a stack of
 * its own and calls hvt_main(bi), which the test program defines.
 *
 * Output goes to the UART (the root's ports pass through); report() prints
 * PASS/FAIL lines as tests/guest/ does, and hvt_exit() ends the run through
 * the debug-exit port: 0 all passed, 1 something failed.
 *
 * Exceptions: an IDT of 32 gates.  An instruction expected to fault (a
 * WRMSR to a read-only MSR, VMCALL before the hypercall page exists) is
 * placed with HVT_EXTABLE, which names where execution continues; the
 * handler records the vector there.  Any other exception is a failure
 * that ends the run. */
#ifndef HVT_H
#define HVT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/bootinfo.h>
#include <hv/tlfs.h>

#include "fw_format.h"
#include "fw_string.h"
#include "fw_uart.h"
#include "fw_x86.h"

#define HVT_DEBUG_EXIT_PORT 0xf4
#define HVT_EXIT_PASS 0
#define HVT_EXIT_FAIL 1

#define HVT_PAGE 0x1000ull
#define HVT_2M 0x200000ull

#define HVT_VEC_NONE (-1)
#define HVT_VEC_UD 6
#define HVT_VEC_GP 13

/* The test program's entry, called by entry.S on its own stack. */
void hvt_main(const struct hv_bootinfo *bi);

/* ---- console and reports ---- */

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned report_failures(void);
/* Prints the summary and ends the run: 0 if everything passed and
 * something was checked, 1 otherwise. */
__attribute__((noreturn)) void report_exit(void);
__attribute__((noreturn)) void hvt_exit(uint32_t code);

/* ---- exceptions ---- */

/* Loads the IDT (every vector 0-31 to the dispatcher). */
void hvt_idt_init(void);

/* One exception-table entry: if the instruction at label `fault` raises
 * an exception, the handler records its vector in hvt_fault_vector and
 * resumes at label `fixup`.  For inline asm: "1: insn\n2:\n"
 * HVT_EXTABLE("1b", "2b"). */
#define HVT_EXTABLE(fault, fixup)					\
	".pushsection .hvt_extable, \"a\"\n\t.balign 8\n\t.quad "	\
	fault ", " fixup "\n\t.popsection\n\t"

extern volatile int hvt_fault_vector;		/* HVT_VEC_NONE if none */
extern volatile uint64_t hvt_fault_error;	/* its error code (0 if none) */

/* RDMSR/WRMSR/VMCALL that return the vector of the exception they raised,
 * or HVT_VEC_NONE. */
int rdmsr_safe(uint32_t msr, uint64_t *v);
int wrmsr_safe(uint32_t msr, uint64_t v);
/* A bare VMCALL with the hypercall registers; *rax gets RAX (unchanged
 * when it faulted). */
int vmcall_safe(uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t *rax);

/* Open an interrupt window for a moment: STI, a jump (hvsim checks for
 * interrupts at block boundaries), CLI.  An interrupt pending for the
 * root arrives in it through the gate of its vector (exception stubs
 * serve vectors below 32: use one whose stub pushes no error code, 16,
 * 18 or 19, as for an interrupt).  The vector taken, or HVT_VEC_NONE. */
int hvt_interrupt_window(void);

/* ---- the root's memory ---- */

/* Remembers the boot information (a copy) for the helpers below. */
void hvt_mem_init(const struct hv_bootinfo *bi);
const struct hv_bootinfo *hvt_bootinfo(void);
/* `n` contiguous pages of available RAM that nothing else uses (above
 * this image), aligned to `align` bytes, zeroed; 0 when RAM runs out. */
uint64_t hvt_alloc(uint64_t n, uint64_t align);
/* The first range of the memory map of `type` starting at or above
 * `from`; false if none. */
bool hvt_find_range(uint32_t type, uint64_t from, uint64_t *base, uint64_t *len);

static inline void *hvt_va(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

static inline uint64_t hvt_pa(const void *va)
{
	return (uint64_t)(uintptr_t)va;
}

extern char __image_start[], __image_end[];

#endif
