/* The runtime shared by the child partition kernels (README.md):
 * enlightened.elf and unenlightened.elf.  Prefix child_.
 *
 * The contract with the root is include/hv/childboot.h: entry in 64-bit
 * mode at CHILD_LOAD_BASE's image, RSP = CHILD_STACK_TOP, RDI = the boot
 * page; results go to the mailbox page.  Files: entry.S (entry, stack
 * check), runtime.c (mailbox log, checks, entry-state check, the end),
 * workload.c (the computation both images run), enlightened.c and
 * unenlightened.c (each image's child_main).
 *
 * The first part is shared with entry.S: constants only. */
#ifndef CHILD_H
#define CHILD_H

/* childboot.h's layout without its C suffixes, for the assembler;
 * runtime.c asserts that the two agree. */
#define CHILD_ASM_STACK_TOP 0x80000
#define CHILD_ASM_STACK_BOTTOM 0x10000
#define CHILD_ASM_STACK_MIN 0x4000	/* entry.S wants this much stack at least */
#define CHILD_ASM_FALLBACK_STACK 4096	/* entry.S: only to report a bad stack */

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/childboot.h>

#include "fw_format.h"
#include "fw_string.h"
#include "fw_x86.h"

/* One iteration of the workload (workload.c) is a sieve to 100,000, two
 * CRC-32s (about 16 KiB) and a Miller-Rabin scan of 1,024 numbers near
 * 2^40: about 1.1 million instructions, 2.1 million cycles with the
 * sandybridge profile.  hv_child_boot.workload_iterations = 0 asks for
 * this many (about 8.4 million cycles, 2.5 ms of simulated time). */
#define CHILD_DEFAULT_ITERATIONS 4

/* A log line's longest text, "PASS: "/"FAIL: " and the newline included;
 * longer lines are cut. */
#define CHILD_LINE_MAX 160

/* The image calling child_start(): what the boot page's
 * CHILD_FLAG_ENLIGHTENED must say. */
enum child_image {
	CHILD_IMAGE_UNENLIGHTENED,
	CHILD_IMAGE_ENLIGHTENED,
};

/* Each image's main, called by entry.S with the registers found at entry:
 * RDI (the boot page), RSP and RFLAGS. */
void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags);
/* What every other VP runs (childboot.h), interrupts off, on its own
 * stack; entry.S's weak default halts.  Returning halts the VP. */
void child_ap_main(uint32_t vp_index);

/* runtime.c */

/* Claims the mailbox (magic, everything else zero), then checks the boot
 * page and the entry state the contract promises and logs both.  Must be
 * the first thing child_main does. */
void child_start(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags,
		 enum child_image image);
/* The iterations the boot page asks for (CHILD_DEFAULT_ITERATIONS for 0
 * or an unusable boot page). */
uint32_t child_iterations(void);

/* Appends one line to the mailbox log: "PASS: text" or "FAIL: text",
 * counts the check and, when it failed, the failure.  Returns ok. */
bool child_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line that is not a check ("INFO: text"). */
void child_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Counts a hypercall made (mailbox.hypercalls). */
void child_count_hypercall(void);
/* mailbox.cycles */
void child_set_cycles(uint64_t cycles);
/* mailbox.root_messages: ask the root for `n` messages (childboot.h
 * CHILD_ROOT_MSG_*). */
void child_request_root_messages(uint32_t n);

/* runtime.c: a hypercall through the hypercall page at `page` (RCX
 * control, RDX input GPA or first qword, R8 output GPA or second qword)
 * -> RAX, counted. */
uint64_t child_hv_call_at(const void *page, uint64_t control, uint64_t input, uint64_t output);
/* enlightened.c: the same through the page it enabled; a check that a
 * simple call returned `want`; the status's TLFS name ("?"). */
uint64_t child_hv_call(uint64_t control, uint64_t input, uint64_t output);
bool child_hv_expect(uint64_t rax, uint16_t want, const char *what);
const char *child_status_name(uint16_t st);
/* synicdev.c: the SynIC test device's commands, checked (enlightened.elf,
 * when the boot page says the worker offers it). */
void child_synic_device(uint32_t msr_privileges);
/* A test device command (childboot.h CHILD_SYNIC_TEST_CMD): the status
 * the device reads back; HvCallSignalEvent (fast) of flag `n` on
 * connection `conn`: RAX. */
uint32_t child_synic_cmd(uint32_t conn, uint32_t ctl, uint32_t vp, uint32_t sint);
uint64_t child_signal_event(uint32_t conn, uint32_t n);
/* interrupts.c (enlightened.elf): an IDT, the SIM page, a direct-mode
 * and a message-mode periodic synthetic timer and the root's messages,
 * interrupts on (start, before the workload); then wait for the root's
 * messages, stop the timers, interrupts off, check and report (finish).
 * finish does nothing if start did not get as far as enabling them. */
void child_interrupts_start(uint32_t msr_privileges, bool test_device);
void child_interrupts_finish(void);

/* Writes the summary line, status, checks, hypercalls, then done = 1,
 * and halts with interrupts off for good. */
__attribute__((noreturn)) void child_finish(void);

/* Called by entry.S, on a stack of the image's own, when the RSP the root
 * gave breaks the contract: reports it and ends like child_finish(). */
__attribute__((noreturn)) void child_bad_stack(const struct hv_child_boot *boot, uint64_t entry_rsp);

/* workload.c: runs the workload `iterations` times, timed with RDTSC
 * into mailbox.cycles, and checks every result. */
void child_workload(uint32_t iterations);

#endif /* __ASSEMBLER__ */
#endif
