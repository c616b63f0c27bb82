/* How the root partition starts a child kernel (partitions/child/) and
 * how the child reports back: the contract between the root's worker and
 * the child images.
 *
 * The root maps the child's memory at GPA 0 and loads the child ELF64 at
 * its physical addresses (linked at CHILD_LOAD_BASE).  VP 0 starts in
 * 64-bit mode at the ELF entry, CPL 0, interrupts off, with:
 *   - CR3 = identity page tables (2 MiB pages) covering the child's memory,
 *     built by the root at CHILD_PAGE_TABLES, and the 2 MiB page of its
 *     MMIO devices, CHILD_MMIO_2M (uncached: PCD and PWT);
 *   - a GDT at CHILD_GDT: 0x08 64-bit code, 0x10 data, 0x18 a 64-bit TSS
 *     (at CHILD_TSS); CS = 0x08, DS = ES = SS = 0x10, TR = 0x18;
 *   - RSP = CHILD_STACK_TOP, RDI = CHILD_BOOT (a struct hv_child_boot);
 *   - CR0 = PG|AM|WP|NE|ET|MP|PE, CR4 = PAE|OSFXSR|OSXMMEXCPT,
 *     EFER = LME|LMA.
 * Every other VP the configuration asks for (vp_count) is started by the
 * root with HvCallStartVirtualProcessor at the same entry, in the same
 * state, but with RSP = CHILD_AP_STACK_TOP(index) and RDI undefined; a
 * VP tells itself from VP 0 by its index (CPUID.01H:EBX[31:24], the
 * initial APIC ID; HV_X64_MSR_VP_INDEX; its x2APIC ID).  VP 0's stack must then stay above CHILD_AP_STACK_TOP of
 * the last VP.
 * The child writes its results to the mailbox page (struct
 * hv_child_mailbox at CHILD_MAILBOX) and ends by halting with interrupts
 * off; the root reads the mailbox once the child's VP 0 has halted. */
#ifndef HV_CHILDBOOT_H
#define HV_CHILDBOOT_H

#include <stdint.h>

#define CHILD_PAGE_TABLES 0x1000ull	/* PML4, then one PDPT, then PDs */
#define CHILD_GDT 0x8000ull
#define CHILD_TSS 0x8100ull
#define CHILD_BOOT 0x9000ull
#define CHILD_MAILBOX 0xa000ull
#define CHILD_STACK_TOP 0x80000ull	/* stack below it, down to 0x10000 */
#define CHILD_AP_STACK_SIZE 0x4000ull	/* each other VP's stack */
#define CHILD_AP_STACK_TOP(vp) (0x10000ull + (uint64_t)(vp) * CHILD_AP_STACK_SIZE)	/* vp >= 1 */
#define CHILD_LOAD_BASE 0x100000ull	/* where child images are linked */
#define CHILD_MIN_MEMORY (4ull << 20)

#define CHILD_BOOT_MAGIC 0x544f4f42444c4843ull	/* "CHLDBOOT" */
#define CHILD_BOOT_VERSION 1
#define CHILD_MAILBOX_MAGIC 0x5854494d444c4843ull	/* "CHLDMITX" */

#define CHILD_FLAG_ENLIGHTENED 0x1	/* the configuration says so */
#define CHILD_FLAG_SYNIC_TEST_DEVICE 0x2	/* its worker offers the SynIC test device */

/* The emulated devices the root's worker (VMWP) gives every child, at
 * ports the root intercepts (partitions/root/README.md "The worker"):
 * a 16550-like serial port at COM1 whose output the worker collects, and
 * a 32-bit read-only ID register that reads CHILD_VMWP_ID(partition id).
 * CHILD_NODEV_PORT is intercepted by nobody: reads are all ones. */
#define CHILD_COM1_PORT 0x3f8		/* 8 registers, 0x3f8-0x3ff */
#define CHILD_COM1_PORTS 8
#define CHILD_VMWP_ID_PORT 0x600
#define CHILD_VMWP_ID(partition) (0x56570000u | ((uint32_t)(partition) & 0xffffu))	/* "WV" */
#define CHILD_NODEV_PORT 0x700
/* An HPET (IA-PC HPET Specification 1.0a) at CHILD_HPET_BASE, its 1 KiB of
 * registers emulated by the worker on the unmapped-GPA path: the child's
 * access to memory it was not given reaches the worker as the
 * hypervisor's HvMessageTypeUnmappedGpa message, and the worker decodes
 * and emulates the instruction (docs/hypervisor.md "Intercepts").  Three
 * comparators, a 64-bit main counter at 10 MHz (the root's reference
 * counter: CHILD_HPET_PERIOD_FS femtoseconds a tick), no interrupt
 * routes (docs: partitions/root/README.md "The worker").  Anything else
 * between the HPET and CHILD_MMIO_2M's end has no device: an access
 * there stops the child. */
#define CHILD_MMIO_2M 0xfec00000ull	/* the 2 MiB page mapped for the devices below */
#define CHILD_HPET_BASE 0xfed00000ull
#define CHILD_HPET_SIZE 0x400ull
#define CHILD_HPET_PERIOD_FS 100000000u	/* 100 ns: the largest period the spec allows */
#define CHILD_HPET_VENDOR 0x1414u	/* Microsoft's PCI vendor ID */
#define CHILD_HPET_TIMERS 3
#define CHILD_HPET_REV 1
/* The capabilities register's low half (HPET 1.0a 2.3.4), which the ACPI
 * HPET table's Event Timer Block ID repeats: revision, comparators - 1 in
 * 12:8, a 64-bit counter (13), no legacy replacement route (15), vendor. */
#define CHILD_HPET_ID \
	(CHILD_HPET_VENDOR << 16 | 1u << 13 | (CHILD_HPET_TIMERS - 1u) << 8 | CHILD_HPET_REV)
/* The SynIC test device (docs/hypervisor.md "SynIC test device"), for a
 * child whose configuration says synic_test_device: a 32-bit write of
 * CHILD_SYNIC_TEST_CMD(conn, ctl, vp, sint) runs a command; a 32-bit read
 * returns the HV_STATUS of the last one (0xffff: a ctl the device does
 * not know). */
#define CHILD_SYNIC_TEST_PORT 0x3000
#define CHILD_SYNIC_TEST_CMD(conn, ctl, vp, sint) \
	(((uint32_t)(conn) & 0xff) << 24 | ((uint32_t)(ctl) & 0xff) << 16 | ((uint32_t)(vp) & 0xff) << 8 | \
	 ((uint32_t)(sint) & 0xff))
#define CHILD_SYNIC_TEST_UNKNOWN 0xffff

/* Messages from the root (partitions/root/childmsg.c): a child that
 * wants them writes how many (at most CHILD_ROOT_MSG_MAX) to its
 * mailbox's root_messages once its SIM page and SINT are ready.  The root
 * then creates a message port in the child (id CHILD_ROOT_MSG_PORT, VP 0,
 * SINT CHILD_ROOT_MSG_SINT) and a connection of its own to it, and posts
 * that many messages of type CHILD_ROOT_MSG_TYPE (HvCallPostMessage), at
 * most one each time the LP comes back to it, each carrying a struct
 * child_root_msg; the header's sender is the port id. */
#define CHILD_ROOT_MSG_SINT 3
#define CHILD_ROOT_MSG_PORT 0x400000u
#define CHILD_ROOT_MSG_TYPE 0x52544d31u	/* "1MTR": a guest's type, bit 31 clear */
#define CHILD_ROOT_MSG_MAX 16

/* A multiboot kernel (one with a multiboot header, docs/hypervisor.md
 * "Unmodified guests") is booted as a PC firmware would: its segments at
 * their physical addresses (1 MiB and up), VP 0 in 32-bit protected mode
 * with paging off (Multiboot Specification 3.2: EAX = 0x2BADB002, EBX =
 * the information structure, CS 0x08 and data 0x10 flat from a GDT at
 * CHILD_MB_GDT), its other VPs waiting for INIT and SIPI, its APIC in
 * xAPIC mode.  The root writes the information structure, the memory map
 * and the command line at CHILD_MB_INFO and ACPI 1.0 tables at
 * CHILD_MB_ACPI (RSDP, RSDT, FADT with the PM timer, an empty DSDT, a MADT
 * with a local APIC per VP, an HPET table for the HPET above); the memory
 * map reserves [CHILD_MB_LOW_TOP,
 * 1 MiB).  Its worker adds to the devices above: */
#define CHILD_MB_GDT 0x8000ull
#define CHILD_MB_INFO 0x9000ull		/* struct multiboot_info, then the map, then the command line */
#define CHILD_MB_LOW_TOP 0x9fc00ull	/* mem_lower: 639 KiB, below the EBDA as on the platform */
#define CHILD_MB_ACPI 0xf0000ull	/* RSDP first: found by scanning 0xE0000-0xFFFFF */
#define CHILD_MB_LOAD_MIN 0x100000ull	/* a kernel's segments lie in [1 MiB, its memory) */
#define CHILD_DEBUG_EXIT_PORT 0xf4	/* isa-debug-exit: a write ends the child with that value */
#define CHILD_FWCFG_PORT 0x510		/* QEMU fw_cfg: selector 0x510 (16-bit), data 0x511 */
#define CHILD_FWCFG_PORTS 2
#define CHILD_PMTIMER_PORT 0x608	/* ACPI PM timer, 32-bit, 3.579545 MHz */
#define CHILD_PMTIMER_HZ 3579545ull

struct child_root_msg {
	uint32_t seq;			/* 0, 1, ... */
	uint32_t count;			/* the number the child asked for */
};

struct hv_child_boot {
	uint64_t magic;			/* CHILD_BOOT_MAGIC */
	uint32_t version;		/* CHILD_BOOT_VERSION */
	uint32_t flags;			/* CHILD_FLAG_* */
	uint64_t memory_bytes;		/* mapped from GPA 0 */
	uint32_t vp_count;
	uint32_t workload_iterations;	/* how much computing to do (the child's unit) */
	char name[32];			/* the child's name in the configuration */
};

/* Results.  The child sets `done` last. */
#define CHILD_LOG_BYTES 3072

struct hv_child_mailbox {
	uint64_t magic;			/* CHILD_MAILBOX_MAGIC */
	uint32_t done;			/* 1: the child finished and halts */
	uint32_t status;		/* 0 every check passed, else the number that failed */
	uint32_t checks;		/* checks made */
	uint32_t hypercalls;		/* hypercalls made (enlightened) */
	uint64_t cycles;		/* TSC cycles the workload took */
	uint32_t log_len;		/* bytes of log */
	uint32_t root_messages;		/* messages the child asks the root to post (CHILD_ROOT_MSG_*) */
	char log[CHILD_LOG_BYTES];	/* text lines the root prints, prefixed by the name */
};

#endif
