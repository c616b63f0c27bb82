/* Runtime for hvsim's freestanding guest test kernels (tests/guest/<name>.c),
 * in the manner of kvm-unit-tests: each test is a multiboot kernel that
 * checks architecturally defined outcomes with report() and ends the run
 * through the isa-debug-exit port (0 pass, 1 fail, 77 skip).
 *
 * Boot path (entry.S): multiboot v1 header; 32-bit protected-mode entry
 * that records the machine state the multiboot spec promises (section
 * 3.2), builds an identity map of the first 4 GiB with 2 MiB pages and
 * enters 64-bit mode; then guest.c installs an IDT for vectors 0-31 and a
 * TSS (for IST stacks) and calls the test's test_main().
 *
 * A test provokes an exception with an instruction listed in the
 * exception table (EX_TABLE): the handler records what arrived (vector,
 * error code, the pushed frame, CR2) in exc_last and resumes at the
 * listed fixup address.  An exception at an address not in the table is
 * reported as a failure and ends the test. */
#ifndef GUEST_H
#define GUEST_H

/* Selectors of the test kernels' GDT (entry.S). */
#define GUEST_CS64 0x08		/* 64-bit code, DPL 0 */
#define GUEST_DS 0x10		/* flat data */
#define GUEST_CS32 0x18		/* flat 32-bit code (entry and compatibility mode) */
#define GUEST_TSS 0x20		/* 64-bit TSS, 16 bytes */
#define GUEST_GDT_ENTRIES 6

/* Word offsets in boot32_state[], filled by the 32-bit entry. */
#define B32_EAX 0		/* EAX at entry: the multiboot magic */
#define B32_EBX 1		/* EBX at entry: the information structure */
#define B32_EFLAGS 2		/* EFLAGS at entry */
#define B32_CR0 3
#define B32_CR4 4
#define B32_EFER_LO 5		/* IA32_EFER at entry */
#define B32_EFER_HI 6
#define B32_CS 7		/* CS selector at entry */
#define B32_DE_COUNT 8		/* 32-bit #DE probe (if boot32_probe_exceptions): */
#define B32_DE_EIP 9		/*   EIP pushed by the #DE */
#define B32_DE_CS 10		/*   CS pushed */
#define B32_DE_EFLAGS 11	/*   EFLAGS pushed */
#define B32_DE_ESP_BEFORE 12	/*   ESP just before the faulting DIV */
#define B32_DE_ESP_HANDLER 13	/*   ESP at the handler's first instruction */
#define B32_WORDS 14

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/multiboot.h>

#include "fw_format.h"
#include "fw_string.h"
#include "fw_uart.h"
#include "fw_x86.h"

/* ---- the test ---- */

/* Provided by each test: called in 64-bit mode with the multiboot
 * handoff registers (EAX, EBX at entry).  Returning ends the run with
 * the status report_summary() computes. */
void test_main(uint32_t magic, struct multiboot_info *info);

/* A test that defines this as 1 (strong symbol) makes the 32-bit entry
 * raise one #DE through a 32-bit IDT before enabling paging. */
extern const uint8_t boot32_probe_exceptions;
extern uint32_t boot32_state[B32_WORDS];
extern const char de32_insn[];	/* address of the probe's DIV */

/* ---- reporting and exit ---- */

#define GUEST_EXIT_PASS 0
#define GUEST_EXIT_FAIL 1
#define GUEST_EXIT_SKIP 77
#define GUEST_DEBUG_EXIT_PORT 0xf4

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
/* "PASS: msg" or "FAIL: msg"; returns pass. */
bool report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the totals and returns the exit status: 1 if anything failed or
 * nothing was checked, 77 if everything was skipped, else 0. */
int report_summary(void);
unsigned report_failures(void);
/* Ends the run now with `code`. */
__attribute__((noreturn)) void guest_exit(uint32_t code);
/* Skip the whole test: prints "SKIP: reason" and exits with 77. */
__attribute__((noreturn, format(printf, 1, 2))) void guest_skip(const char *fmt, ...);
/* The decimal number after `key` (e.g. "round_trip=") on the kernel's
 * command line, 0 if it is not there. */
uint64_t guest_cmdline_value(struct multiboot_info *info, const char *key);

/* Asm macros TSC_BEGIN and TSC_END, for an asm() of a timing test: the
 * TSC at TSC_BEGIN (kept in R8 and R9) subtracted from the TSC at
 * TSC_END, in RAX; they change RAX, RDX, R8, R9 and the flags.  The
 * delta is the cycles from the first RDTSC to the second, the first one
 * and the two MOVs after it included. */
#define GUEST_TSC_MACROS			\
	".macro TSC_BEGIN\n"			\
	"	rdtsc\n"			\
	"	mov %eax, %r8d\n"		\
	"	mov %edx, %r9d\n"		\
	".endm\n"				\
	".macro TSC_END\n"			\
	"	rdtsc\n"			\
	"	shl $32, %rdx\n"		\
	"	or %rdx, %rax\n"		\
	"	shl $32, %r9\n"		\
	"	or %r8, %r9\n"			\
	"	sub %r9, %rax\n"		\
	".endm\n"

/* ---- exceptions ---- */

#define DE_VECTOR 0
#define DB_VECTOR 1
#define NMI_VECTOR 2
#define BP_VECTOR 3
#define UD_VECTOR 6
#define DF_VECTOR 8
#define TS_VECTOR 10
#define NP_VECTOR 11
#define SS_VECTOR 12
#define GP_VECTOR 13
#define PF_VECTOR 14
#define EXC_NONE (-1)

/* Page-fault error code bits (SDM Vol. 3A 4.7). */
#define PF_ERR_P (1u << 0)
#define PF_ERR_W (1u << 1)
#define PF_ERR_U (1u << 2)
#define PF_ERR_RSVD (1u << 3)
#define PF_ERR_I (1u << 4)

/* Registers as the stubs in idt.S leave them on the stack. */
struct exc_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error_code;	/* error_code 0 when the CPU pushes none */
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU (SDM Vol. 3A 6.14.1) */
};

struct exc_record {
	int vector;		/* EXC_NONE if nothing arrived since exc_reset() */
	uint64_t error_code, rip, cs, rflags, rsp, ss;
	uint64_t cr2;		/* read in the handler for #PF */
	uint64_t frame;		/* address of the pushed frame (struct exc_regs) */
	unsigned count;		/* exceptions since exc_reset() */
};

extern struct exc_record exc_last;

static inline void exc_reset(void)
{
	exc_last.vector = EXC_NONE;
	exc_last.count = 0;
	asm volatile("" ::: "memory");
}

/* Asm snippet: an exception at address `fault` resumes at `fixup`. */
#define EX_TABLE(fault, fixup)					\
	".pushsection .ex_table, \"a\"\n\t"			\
	".balign 8\n\t"						\
	".quad " fault ", " fixup "\n\t"			\
	".popsection\n\t"

/* Interrupts (vectors 32-255, and NMI): `fn` runs for `vector` with the frame
 * (error_code 0); returning IRETs.  A vector without a handler is an
 * unexpected exception: a failure that ends the test. */
typedef void irq_handler_fn(struct exc_regs *r);
void irq_set_handler(unsigned vector, irq_handler_fn *fn);

/* Route `vector` through IST stack `ist` (1, or 0 for none). */
void exc_set_ist(unsigned vector, unsigned ist);
extern uint8_t guest_ist1_stack[];
#define GUEST_IST_STACK_SIZE 8192

/* RDMSR/WRMSR that return the vector of the exception they raised, or
 * EXC_NONE; exc_last holds its details.  *val is 0 after a fault. */
static inline int rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	exc_reset();
	asm volatile("1: rdmsr\n2:\n\t" EX_TABLE("1b", "2b")
		     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return exc_last.vector;
}

static inline int wrmsr_safe(uint32_t msr, uint64_t val)
{
	exc_reset();
	asm volatile("1: wrmsr\n2:\n\t" EX_TABLE("1b", "2b")
		     : : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
	return exc_last.vector;
}

/* ---- identity map built by entry.S ---- */

extern uint64_t guest_pml4[512];
extern uint64_t guest_pdpt[512];
extern uint64_t guest_pd[4][512];	/* 2 MiB pages covering 0-4 GiB */
extern uint64_t guest_gdt[GUEST_GDT_ENTRIES];

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)

/* The PDE mapping virtual address `va` (below 4 GiB). */
static inline uint64_t *guest_pde(uint64_t va)
{
	return &guest_pd[(va >> 30) & 3][(va >> 21) & 511];
}

/* ---- fw_cfg (QEMU docs/specs/fw_cfg.rst, I/O-port interface) ---- */

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_FILE_DIR 0x19

void fwcfg_select(uint16_t key);
void fwcfg_read_bytes(void *buf, size_t len);	/* from the selected item */
void fwcfg_read(uint16_t key, void *buf, size_t len);
uint64_t fwcfg_read_u64(uint16_t key);	/* little endian */
uint16_t fwcfg_read_u16(uint16_t key);
bool fwcfg_present(void);		/* signature reads "QEMU" */
/* Number of files in the directory (at most FWCFG_MAX_FILES are looked at). */
uint32_t fwcfg_file_count(void);
/* Looks a file up by name: 0 and its key and size, or -1. */
int fwcfg_find_file(const char *name, uint16_t *key, uint32_t *size);
#define FWCFG_MAX_FILES 4096

#endif /* __ASSEMBLER__ */
#endif
