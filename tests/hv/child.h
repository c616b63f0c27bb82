/* The child partitions hvcall_matrix starts: their guest-physical layout
 * and the programs they run (child.S).
 *
 * The root maps 2 MiB of its own pages at GPA 0 of each child and builds
 * there, through its own view of those pages, a GDT with a TSS, 4-level
 * page tables mapping the first GiB with 2 MiB pages (so a store to a GPA
 * the child was not given reaches the EPT, not the page tables), the
 * program and a shared area where the program leaves its results.  The
 * programs are position-independent code copied to CHILD_CODE; every
 * other address they use is one of the constants below. */
#ifndef HVT_CHILD_H
#define HVT_CHILD_H

#define CHILD_SIZE	0x200000	/* GPA [0, 2 MiB) is mapped */
#define CHILD_GDT	0x1000
#define CHILD_TSS	0x1100
#define CHILD_PML4	0x2000
#define CHILD_PDPT	0x3000
#define CHILD_PD	0x4000
#define CHILD_SHARED	0x8000		/* results, read by the root */
#define CHILD_HCPAGE	0x9000		/* the child's hypercall page */
#define CHILD_IN	0xA000		/* its hypercall input page (zeros) */
#define CHILD_OUT	0xB000		/* and output page */
#define CHILD_CODE	0x10000
#define CHILD_STACK	0x20000		/* initial RSP (grows down) */
#define CHILD_WILD	0x400000	/* a GPA outside what is mapped */

/* Cycles a child spins before doing anything visible: more than one
 * scheduler slice (hv_model exit.c, 1,000,000 cycles), so the root has
 * reached its HLT when the child halts or is stopped. */
#define CHILD_SPIN	3000000

/* The shared area (CHILD_SHARED + offset), 8 bytes a field. */
#define SH_SUM		0x00	/* 1 + 2 + ... + 1000 */
#define SH_CPUID0_EAX	0x08	/* CPUID 0x40000000 EAX: maximum leaf */
#define SH_CPUID3_EAX	0x10	/* CPUID 0x40000003 EAX, EBX: privileges */
#define SH_CPUID3_EBX	0x18
#define SH_HC_MSR	0x20	/* HV_X64_MSR_HYPERCALL read back */
#define SH_RAX_GETID	0x28	/* RAX of HvCallGetPartitionId */
#define SH_RAX_CREATE	0x30	/* RAX of HvCallCreatePartition */
#define SH_RAX_DEPOSIT	0x38	/* RAX of HvCallDepositMemory (1 rep) */
#define SH_RAX_MAP	0x40	/* RAX of HvCallMapGpaPages (1 rep) */
#define SH_DONE		0x48	/* 1 when child_sum is about to halt */
#define SH_MARK		0x50	/* progress of child_wild / child_io: 1 before
				 * the forbidden (or I/O) access, 2 after it */
#define SH_IO_IN	0x58	/* RAX after child_io's IN from port 0xF4, child_intercept's from 0x3F8 */
#define SH_RAX_CPORT	0x60	/* RAX of HvCallCreatePort (no CreatePort privilege) */
#define SH_RAX_CONNECT	0x68	/* RAX of HvCallConnectPort (no ConnectPort privilege) */
#define SH_RAX_CPORT_REP 0x70	/* RAX of HvCallCreatePort with rep count 1 and bit 27 */

#ifndef __ASSEMBLER__
/* child.S: each program from _start to _end, and the offsets the root
 * checks RIP against. */
extern const unsigned char child_sum_start[], child_sum_end[], child_sum_after_hlt[];
extern const unsigned char child_wild_start[], child_wild_end[], child_wild_store[];
extern const unsigned char child_io_start[], child_io_end[];
extern const unsigned char child_intercept_start[], child_intercept_end[], child_intercept_out[];
#endif

#endif
