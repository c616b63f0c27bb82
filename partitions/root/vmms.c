/* The VMMS: the root kernel's service that owns every child partition's
 * state machine (created, running, paused, stopped) and drives it through
 * the VID layer's hypercalls: create, deposit, initialize, VPs, memory,
 * the child kernel loaded and started (include/hv/childboot.h), and at
 * the end finalize, withdraw and delete.
 *
 * Every child gets a worker process (VMWP, ring 3, user/vmwp.c) that
 * emulates its devices: the VMMS installs I/O intercepts on the child's
 * device ports, the hypervisor turns the child's accesses into intercept
 * messages on the root's SINT0, the VMMS takes them (through the VID
 * layer) and hands each to the child's worker, which answers through a
 * system call; the VID layer then completes the intercept.
 *
 * The root waits for its children by yielding the LP to them
 * (HvCallNotifyLongSpinWait) and, in between, taking intercept messages
 * and looking at their mailboxes and VP state; a child that does not
 * finish in VMMS_CHILD_BUDGET cycles is paused and reported. */
#include <hv/childboot.h>
#include <hv/marker.h>
#include <hv/multiboot.h>
#include <hv/tlfs.h>

#include "elf.h"
#include "kernel.h"
#include "mboot.h"
#include "vid.h"
#include "vmms.h"

#define VMMS_CHILD_BUDGET (4000ull * 1000 * 1000)	/* cycles: about 1.2 s at 3.4 GHz */
#define VMMS_MB_BUDGET (200ull * 1000 * 1000 * 1000)	/* a multiboot guest's: about 1 min */
#define MAP_BATCH ((RK_PAGE - sizeof(struct hv_input_map_gpa_pages)) / 8)
#define CHILD_CR0 0x80050033ull	/* PG AM WP NE ET MP PE */
#define CHILD_CR4 0x620ull	/* OSXMMEXCPT OSFXSR PAE */
#define CHILD_EFER 0x500ull	/* LMA LME */
#define RFLAGS_IF 0x200ull	/* SDM Vol. 1 3.4.3 */
#define CHILD_PAT 0x0007040600070406ull	/* the power-up value (SDM Vol. 3A 11.12.4) */
#define MB_CR0 0x31ull		/* NE ET PE: protected mode, paging off (Multiboot 3.2) */

static struct rk_child children[HV_BOOT_MAX_PARTITIONS];
static unsigned nchildren;

static const char *const state_names[] = { "none", "created", "running", "paused", "stopped" };

static void set_state(struct rk_child *ch, enum rk_child_state st)
{
	rk_printf("vmms: %s: %s -> %s\n", ch->cfg.name, state_names[ch->state], state_names[st]);
	ch->state = st;
}

static uint16_t status(uint64_t rax)
{
	return (uint16_t)rax;
}

/* The root pages backing the child's memory, by guest page number: a
 * directory of pages holding 512 page addresses each. */
static uint64_t *page_slot(struct rk_child *ch, uint64_t gpfn)
{
	return (uint64_t *)rk_va(ch->dir[gpfn / 512]) + gpfn % 512;
}

/* The root page backing child GPA `gpa`. */
static void *child_va(struct rk_child *ch, uint64_t gpa)
{
	return rk_va(*page_slot(ch, gpa / RK_PAGE) + gpa % RK_PAGE);
}

static void child_write(struct rk_child *ch, uint64_t gpa, const void *src, uint64_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint64_t n = RK_PAGE - gpa % RK_PAGE;

		if (n > len)
			n = len;
		memcpy(child_va(ch, gpa), s, n);
		gpa += n;
		s += n;
		len -= n;
	}
}

/* Child memory: root pages, mapped at GPA 0.. read/write/execute. */
static int child_memory(struct rk_child *ch)
{
	struct {
		struct hv_input_map_gpa_pages h;
		uint64_t gpfn[MAP_BATCH];
	} in;
	uint64_t npages = ch->cfg.memory / RK_PAGE, ndir = (npages + 511) / 512;

	if (ndir > RK_CHILD_DIR_PAGES)
		return -1;
	for (uint64_t i = 0; i < ndir; i++)
		if (!(ch->dir[i] = rk_page_alloc()))
			return -1;
	for (uint64_t g = 0; g < npages; g++) {
		uint64_t pa = rk_page_alloc();

		if (!pa)
			return -1;
		*page_slot(ch, g) = pa;
		ch->npages = g + 1;
	}
	for (uint64_t g = 0; g < npages; g += MAP_BATCH) {
		unsigned n = npages - g < MAP_BATCH ? (unsigned)(npages - g) : (unsigned)MAP_BATCH;
		uint64_t r;

		in.h = (struct hv_input_map_gpa_pages){ .target_partition_id = ch->id, .target_gpa_base = g,
							 .map_flags = HV_MAP_GPA_READABLE | HV_MAP_GPA_WRITABLE |
								      HV_MAP_GPA_EXECUTABLE };
		for (unsigned i = 0; i < n; i++)
			in.gpfn[i] = *page_slot(ch, g + i) / RK_PAGE;
		r = vid_call_deposit(ch->id, HVCALL_MAP_GPA_PAGES, n, &in, sizeof(in.h) + n * 8, NULL, 0);
		if (status(r)) {
			rk_printf("vmms: %s: HvCallMapGpaPages: status 0x%x after %u pages\n", ch->cfg.name, status(r),
				  (unsigned)(r >> 32) & 0xfff);
			return -1;
		}
	}
	return 0;
}

/* The image's segments at their child physical addresses, zero-filled
 * past their file bytes. */
static void load_segments(struct rk_child *ch, const struct hv_boot_module *m, const struct rk_elf_seg *seg,
			  unsigned nseg)
{
	static const uint8_t zero[256];

	for (unsigned i = 0; i < nseg; i++) {
		const struct rk_elf_seg *s = &seg[i];

		child_write(ch, s->vaddr, rk_va(m->base + s->offset), s->filesz);
		for (uint64_t z = s->filesz; z < s->memsz; z += sizeof(zero))
			child_write(ch, s->vaddr + z, zero, s->memsz - z < sizeof(zero) ? s->memsz - z : sizeof(zero));
	}
}

/* The child kernel at its physical addresses, and the entry state of
 * childboot.h: page tables, GDT, TSS, boot page, mailbox. */
static int child_load(struct rk_child *ch, const struct hv_boot_module *m, uint64_t *entry)
{
	struct rk_elf_image img;
	uint64_t *pt, gdt[5], tss = CHILD_TSS, ngib = (ch->cfg.memory + RK_GIB - 1) / RK_GIB;
	struct hv_child_boot boot;
	int err = rk_elf_parse(rk_va(m->base), m->length, CHILD_LOAD_BASE, ch->cfg.memory, &img);

	if (err) {
		rk_printf("vmms: %s: kernel '%s': %s\n", ch->cfg.name, m->name, rk_elf_strerror(err));
		return -1;
	}
	load_segments(ch, m, img.seg, img.nseg);
	/* PML4 at CHILD_PAGE_TABLES, one PDPT after it, then a PD per GiB,
	 * 2 MiB pages over the child's memory (SDM Vol. 3A 4.5); and the
	 * devices' 2 MiB page, uncached (PCD, PWT: SDM 11.12.3), whose GiB
	 * (the fourth) holds no child memory (RK_CHILD_DIR_PAGES). */
	pt = child_va(ch, CHILD_PAGE_TABLES);
	pt[0] = (CHILD_PAGE_TABLES + RK_PAGE) | RK_PTE_P | RK_PTE_W;
	for (uint64_t g = 0; g < 4; g++) {
		uint64_t *pdpt = child_va(ch, CHILD_PAGE_TABLES + RK_PAGE);
		uint64_t pd = CHILD_PAGE_TABLES + (2 + g) * RK_PAGE;

		if (g == CHILD_MMIO_2M / RK_GIB) {
			pdpt[g] = pd | RK_PTE_P | RK_PTE_W;
			((uint64_t *)child_va(ch, pd))[CHILD_MMIO_2M % RK_GIB / RK_2M] =
				CHILD_MMIO_2M | RK_PTE_P | RK_PTE_W | RK_PTE_PS | RK_PTE_PCD | RK_PTE_PWT;
			continue;
		}
		if (g >= ngib)
			continue;
		pdpt[g] = pd | RK_PTE_P | RK_PTE_W;
		for (uint64_t i = 0; i < 512 && g * RK_GIB + i * RK_2M < ch->cfg.memory; i++)
			((uint64_t *)child_va(ch, pd))[i] = (g * RK_GIB + i * RK_2M) | RK_PTE_P | RK_PTE_W | RK_PTE_PS;
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull;	/* 0x08: 64-bit code */
	gdt[2] = 0x00cf92000000ffffull;	/* 0x10: data */
	gdt[3] = 0x67 | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	gdt[4] = tss >> 32;
	child_write(ch, CHILD_GDT, gdt, sizeof(gdt));
	boot = (struct hv_child_boot){
		.magic = CHILD_BOOT_MAGIC, .version = CHILD_BOOT_VERSION,
		.flags = ((ch->cfg.flags & HV_BOOT_PART_ENLIGHTENED) ? CHILD_FLAG_ENLIGHTENED : 0) |
			 ((ch->cfg.flags & HV_BOOT_PART_SYNIC_TEST_DEVICE) ? CHILD_FLAG_SYNIC_TEST_DEVICE : 0),
		.memory_bytes = ch->cfg.memory, .vp_count = ch->cfg.vps,
		.workload_iterations = ch->cfg.iterations,
	};
	memcpy(boot.name, ch->cfg.name, sizeof(boot.name));
	child_write(ch, CHILD_BOOT, &boot, sizeof(boot));
	ch->mailbox = child_va(ch, CHILD_MAILBOX);
	*entry = img.entry;
	return 0;
}

/* A multiboot guest (childboot.h CHILD_MB_*): its segments, the boot
 * data and the ACPI tables. */
static int child_load_mb(struct rk_child *ch, const struct hv_boot_module *m, uint64_t *entry, uint64_t *mbi)
{
	static uint8_t low[RK_MB_LOW_BYTES], acpi[RK_ACPI_BYTES];
	struct rk_mb_image img;
	int err = rk_mb_parse(rk_va(m->base), m->length, CHILD_MB_LOAD_MIN, ch->cfg.memory, &img);

	if (err) {
		rk_report(false, "%s: multiboot kernel '%s': %s", ch->cfg.name, m->name, rk_mb_strerror(err));
		return -1;
	}
	load_segments(ch, m, img.seg, img.nseg);
	*mbi = rk_mb_boot_data(low, ch->cfg.memory, ch->cfg.cmdline);
	child_write(ch, CHILD_MB_GDT, low, sizeof(low));
	child_write(ch, CHILD_MB_ACPI, acpi, rk_acpi_build(acpi, ch->cfg.vps));
	*entry = img.entry;
	rk_printf("vmms: %s: multiboot kernel '%s': %u segments, entry 0x%lx, command line '%s'\n", ch->cfg.name,
		  m->name, img.nseg, (unsigned long)img.entry, ch->cfg.cmdline);
	return 0;
}

static struct hv_register_assoc reg64(uint32_t name, uint64_t v)
{
	return (struct hv_register_assoc){ .name = name, .value.reg64 = v };
}

static struct hv_register_assoc seg(uint32_t name, struct hv_x64_segment_register s)
{
	struct hv_register_assoc r = { .name = name };

	r.value.segment = s;
	return r;
}

static struct hv_register_assoc table(uint32_t name, struct hv_x64_table_register t)
{
	struct hv_register_assoc r = { .name = name };

	r.value.table = t;
	return r;
}

/* The entry state of childboot.h with the stack `rsp`. */
static struct hv_initial_vp_context child_context(uint64_t entry, uint64_t rsp)
{
	const struct hv_x64_segment_register code = { 0, 0xffffffff, 0x08, 0xa09b };
	const struct hv_x64_segment_register data = { 0, 0xffffffff, 0x10, 0xc093 };

	return (struct hv_initial_vp_context){
		.rip = entry, .rsp = rsp, .rflags = 2,
		.cs = code, .ds = data, .es = data, .ss = data,
		.tr = { CHILD_TSS, 0x67, 0x18, 0x8b },
		.gdtr = { .limit = 5 * 8 - 1, .base = CHILD_GDT },
		.efer = CHILD_EFER, .cr0 = CHILD_CR0, .cr3 = CHILD_PAGE_TABLES, .cr4 = CHILD_CR4,
		.msr_cr_pat = CHILD_PAT,
	};
}

/* VP 0's registers: the context `x` and up to four more. */
static uint16_t set_registers(struct rk_child *ch, const struct hv_initial_vp_context *x,
			      const struct hv_register_assoc *more, unsigned nmore)
{
	struct {
		struct hv_input_set_vp_registers h;
		struct hv_register_assoc r[21];
	} in = { .h = { .partition_id = ch->id, .vp_index = 0 } };
	unsigned n = 0;

	in.r[n++] = reg64(HV_X64_REGISTER_CR0, x->cr0);
	in.r[n++] = reg64(HV_X64_REGISTER_CR3, x->cr3);
	in.r[n++] = reg64(HV_X64_REGISTER_CR4, x->cr4);
	in.r[n++] = reg64(HV_X64_REGISTER_EFER, x->efer);
	in.r[n++] = seg(HV_X64_REGISTER_CS, x->cs);
	in.r[n++] = seg(HV_X64_REGISTER_DS, x->ds);
	in.r[n++] = seg(HV_X64_REGISTER_ES, x->es);
	in.r[n++] = seg(HV_X64_REGISTER_SS, x->ss);
	in.r[n++] = seg(HV_X64_REGISTER_FS, x->fs);
	in.r[n++] = seg(HV_X64_REGISTER_GS, x->gs);
	in.r[n++] = seg(HV_X64_REGISTER_TR, x->tr);
	in.r[n++] = seg(HV_X64_REGISTER_LDTR, x->ldtr);
	in.r[n++] = table(HV_X64_REGISTER_GDTR, x->gdtr);
	in.r[n++] = table(HV_X64_REGISTER_IDTR, x->idtr);
	in.r[n++] = reg64(HV_X64_REGISTER_RIP, x->rip);
	in.r[n++] = reg64(HV_X64_REGISTER_RSP, x->rsp);
	in.r[n++] = reg64(HV_X64_REGISTER_RFLAGS, x->rflags);
	for (unsigned i = 0; i < nmore && n < sizeof(in.r) / sizeof(in.r[0]); i++)
		in.r[n++] = more[i];
	return status(vid_call(HVCALL_SET_VP_REGISTERS, n, &in, sizeof(in.h) + n * sizeof(in.r[0]), NULL, 0));
}

/* VP 0's registers: the entry state of childboot.h (its PAT stays the
 * VP's reset value, which is CHILD_PAT's). */
static uint16_t child_registers(struct rk_child *ch, uint64_t entry)
{
	struct hv_initial_vp_context x = child_context(entry, CHILD_STACK_TOP);
	struct hv_register_assoc rdi = reg64(HV_X64_REGISTER_RDI, CHILD_BOOT);

	return set_registers(ch, &x, &rdi, 1);
}

/* VP 0 of a multiboot guest (Multiboot Specification 3.2): 32-bit
 * protected mode, paging off, flat CS 0x08 and data 0x10 from the GDT at
 * CHILD_MB_GDT, EAX the boot loader's magic, EBX the information
 * structure; ESP is undefined there, so it gets the free page below the
 * GDT.  The hypervisor runs it as an unrestricted guest. */
static uint16_t child_registers_mb(struct rk_child *ch, uint64_t entry, uint64_t mbi)
{
	const struct hv_x64_segment_register code = { 0, 0xffffffff, 0x08, 0xc09b };
	const struct hv_x64_segment_register data = { 0, 0xffffffff, 0x10, 0xc093 };
	const struct hv_initial_vp_context x = {
		.rip = entry, .rsp = CHILD_MB_GDT, .rflags = 2,
		.cs = code, .ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = { 0, 0xffff, 0, 0x8b },
		.gdtr = { .limit = 3 * 8 - 1, .base = CHILD_MB_GDT },
		.cr0 = MB_CR0,
	};
	const struct hv_register_assoc more[] = {
		reg64(HV_X64_REGISTER_RAX, MULTIBOOT_BOOTLOADER_MAGIC),
		reg64(HV_X64_REGISTER_RBX, mbi),
	};

	return set_registers(ch, &x, more, 2);
}

/* A multiboot guest's local APICs as a PC's firmware hands them over:
 * xAPIC mode at 0xFEE00000, software-disabled (SDM Vol. 3A 10.4.7.1), the
 * BSP flag on VP 0, through HvX64RegisterApicBase (the hypervisor's
 * default is x2APIC and enabled, docs/hypervisor.md "Virtual APIC"). */
static uint16_t child_apics_mb(struct rk_child *ch)
{
	struct {
		struct hv_input_set_vp_registers h;
		struct hv_register_assoc r;
	} in = { .h = { .partition_id = ch->id } };
	uint16_t st = HV_STATUS_SUCCESS;

	for (unsigned v = 0; st == HV_STATUS_SUCCESS && v < ch->cfg.vps; v++) {
		in.h.vp_index = v;
		in.r = reg64(HV_X64_REGISTER_APIC_BASE, 0xfee00800ull | (v == 0 ? 0x100 : 0));
		st = status(vid_call(HVCALL_SET_VP_REGISTERS, 1, &in, sizeof(in), NULL, 0));
	}
	return st;
}

/* Every VP after VP 0 (childboot.h): HvCallStartVirtualProcessor at the
 * same entry, on its own stack. */
static uint16_t child_start_aps(struct rk_child *ch, uint64_t entry)
{
	struct hv_input_start_virtual_processor in = { .partition_id = ch->id };
	uint16_t st = HV_STATUS_SUCCESS;

	for (unsigned v = 1; st == HV_STATUS_SUCCESS && v < ch->cfg.vps; v++) {
		in.vp_index = v;
		in.vp_context = child_context(entry, CHILD_AP_STACK_TOP(v));
		st = status(vid_call(HVCALL_START_VIRTUAL_PROCESSOR, 0, &in, sizeof(in), NULL, 0));
		if (st)
			rk_printf("vmms: %s: HvCallStartVirtualProcessor(VP %u): status 0x%x\n", ch->cfg.name, v, st);
	}
	return st;
}

/* HvRegisterExplicitSuspend of VPs 0 .. vps - 1: clearing VP 0's starts
 * it; setting every VP's pauses the child. */
static uint16_t set_suspend(struct rk_child *ch, unsigned vps, uint64_t v)
{
	struct {
		struct hv_input_set_vp_registers h;
		struct hv_register_assoc r;
	} in = { .h = { .partition_id = ch->id }, .r = reg64(HV_REGISTER_EXPLICIT_SUSPEND, v) };
	uint16_t st = HV_STATUS_SUCCESS;

	for (unsigned i = 0; st == HV_STATUS_SUCCESS && i < vps; i++) {
		in.h.vp_index = i;
		st = status(vid_call(HVCALL_SET_VP_REGISTERS, 1, &in, sizeof(in), NULL, 0));
	}
	return st;
}

/* VP 0's registers `names[0..n)` in one HvCallGetVpRegisters, so they
 * are one snapshot: the VP runs on another LP meanwhile, but not during
 * the call (docs/hypervisor.md "Scheduling").  ~0 for each on failure. */
static void get_regs(struct rk_child *ch, const uint32_t *names, unsigned n, uint64_t *v)
{
	union hv_register_value out[4];
	bool failed = n > 4 || vid_get_registers(ch->id, 0, names, n, out);

	for (unsigned i = 0; i < n; i++)
		v[i] = failed ? ~0ull : out[i].reg64;
}

/* ---- the worker path ---- */

#define VMMS_MAX_OUTCOMES 16

static uint64_t stray_messages;	/* messages for no child or no worker */

static struct rk_child *child_by_id(uint64_t id)
{
	for (unsigned i = 0; i < nchildren; i++)
		if (children[i].id && children[i].id == id)
			return &children[i];
	return NULL;
}

static struct rk_child *child_by_worker(uint32_t pid)
{
	for (unsigned i = 0; i < nchildren; i++)
		if (children[i].worker_pid && children[i].worker_pid == pid && !children[i].worker_ended)
			return &children[i];
	return NULL;
}

static uint16_t install_io_intercept(struct rk_child *ch, uint32_t type, uint64_t param)
{
	struct hv_input_install_intercept in = {
		.partition_id = ch->id, .access_type = HV_INTERCEPT_ACCESS_MASK_READ_WRITE,
		.intercept_type = type, .intercept_parameter = param,
	};

	return status(vid_call(HVCALL_INSTALL_INTERCEPT, 0, &in, sizeof(in), NULL, 0));
}

/* The child's devices (childboot.h): intercepts on their ports and a
 * worker process to emulate them. */
static int child_devices(struct rk_child *ch)
{
	uint16_t st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE,
					   HV_INTERCEPT_PARAM_IO_PORT_RANGE(CHILD_COM1_PORT,
									     CHILD_COM1_PORT + CHILD_COM1_PORTS - 1));
	int pid;

	if (!st)
		st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT, CHILD_VMWP_ID_PORT);
	if (!st && (ch->cfg.flags & HV_BOOT_PART_SYNIC_TEST_DEVICE))
		st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT, CHILD_SYNIC_TEST_PORT);
	/* A multiboot guest's PC devices (childboot.h): debug-exit (the four
	 * ports a 32-bit OUT covers), fw_cfg, the PM timer. */
	if (!st && ch->multiboot)
		st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE,
					  HV_INTERCEPT_PARAM_IO_PORT_RANGE(CHILD_DEBUG_EXIT_PORT, CHILD_DEBUG_EXIT_PORT + 3));
	if (!st && ch->multiboot)
		st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE,
					  HV_INTERCEPT_PARAM_IO_PORT_RANGE(CHILD_FWCFG_PORT,
									    CHILD_FWCFG_PORT + CHILD_FWCFG_PORTS - 1));
	if (!st && ch->multiboot)
		st = install_io_intercept(ch, HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE,
					  HV_INTERCEPT_PARAM_IO_PORT_RANGE(CHILD_PMTIMER_PORT, CHILD_PMTIMER_PORT + 3));
	if (st) {
		rk_printf("vmms: %s: HvCallInstallIntercept: status 0x%x\n", ch->cfg.name, st);
		return -1;
	}
	pid = rk_proc_create(rk_user_image, (uint64_t)(rk_user_image_end - rk_user_image), RK_ROLE_VMWP, "vmwp");
	if (pid < 0) {
		rk_printf("vmms: %s: no worker process (%d)\n", ch->cfg.name, pid);
		return -1;
	}
	ch->worker_pid = (uint32_t)pid;
	rk_printf("vmms: %s: worker pid %d, intercepts on ports 0x%x-0x%x and 0x%x\n", ch->cfg.name, pid,
		  CHILD_COM1_PORT, CHILD_COM1_PORT + CHILD_COM1_PORTS - 1, CHILD_VMWP_ID_PORT);
	return 0;
}

/* Run the workers until each waits again; note the ones that ended. */
static void run_workers(void)
{
	struct rk_outcome out[VMMS_MAX_OUTCOMES];
	unsigned n = rk_sched_run(out, VMMS_MAX_OUTCOMES);

	for (unsigned i = 0; i < n && i < VMMS_MAX_OUTCOMES; i++) {
		struct rk_child *ch = child_by_worker(out[i].pid);

		if (!ch)
			continue;
		ch->worker_ended = true;
		ch->worker_status = out[i].how == RK_PROC_EXITED ? out[i].exit_status : -1000 - (int64_t)out[i].fault.vector;
	}
}

/* A port access the hypervisor reported (HvMessageTypeX64IoPortIntercept),
 * queued for the worker unless it is INS/OUTS.  True if queued. */
static bool take_io(struct rk_child *ch, const struct hv_message *m)
{
	struct hv_x64_io_port_intercept_message io;
	unsigned size, len;

	memcpy(&io, m->payload, sizeof(io));
	HV_MARKER(HV_MARK_INTERCEPT_TAKEN, ch->id << 32 | io.header.vp_index);
	size = io.access_info & HV_X64_IO_ACCESS_SIZE_MASK;
	len = io.header.instruction_length & 0xf;
	ch->taken++;
	if ((io.access_info & (HV_X64_IO_ACCESS_STRING_OP | HV_X64_IO_ACCESS_REP_PREFIX)) ||
	    (size != 1 && size != 2 && size != 4) || !len) {
		/* INS/OUTS are not emulated: the access is dropped. */
		ch->refused++;
		vid_complete_io(ch->id, io.header.vp_index, false, 0, io.header.rip + len);
		return false;
	}
	ch->req[(ch->head + ch->nreq++) % VMMS_IO_QUEUE] = (struct vmms_io){
		.req = { .kind = RK_REQ_IO, .vp = io.header.vp_index, .port = io.port_number, .size = (uint8_t)size,
			 .write = io.header.intercept_access_type == HV_INTERCEPT_ACCESS_WRITE,
			 .rip = io.header.rip },
		.rax = io.rax, .len = (uint8_t)len,
	};
	return true;
}

/* An access to a GPA the child has no memory at
 * (HvMessageTypeUnmappedGpa): queued for the worker, which decodes and
 * emulates the instruction (user/vmwp.c). */
static void take_gpa(struct rk_child *ch, const struct hv_message *m)
{
	struct hv_x64_memory_intercept_message g;
	struct rk_io_request *r = &ch->req[(ch->head + ch->nreq) % VMMS_IO_QUEUE].req;

	memcpy(&g, m->payload, sizeof(g));
	HV_MARKER(HV_MARK_INTERCEPT_TAKEN, ch->id << 32 | g.header.vp_index);
	ch->taken++;
	*r = (struct rk_io_request){
		.kind = RK_REQ_MMIO, .vp = g.header.vp_index, .access = g.header.intercept_access_type,
		.write = g.header.intercept_access_type == HV_INTERCEPT_ACCESS_WRITE,
		.access_info = g.memory_access_info,
		.insn_count = g.instruction_byte_count < sizeof(g.instruction_bytes) ? g.instruction_byte_count :
										       sizeof(g.instruction_bytes),
		.exec_state = g.header.execution_state, .cs_attributes = g.header.cs_segment.attributes,
		.rip = g.header.rip, .rflags = g.header.rflags, .gva = g.guest_virtual_address,
		.gpa = g.guest_physical_address,
	};
	memcpy(r->insn, g.instruction_bytes, sizeof(r->insn));
	ch->nreq++;
}

/* Take every message waiting on SINT0 and queue each intercept for its
 * child's worker (read once, checked, copied: the hypervisor wrote the
 * page, the child chose the values).  True if a worker was woken. */
static bool take_intercepts(void)
{
	struct hv_message m;
	bool woke = false;

	while (vid_take_message(&m)) {
		struct rk_child *ch = child_by_id(m.header.sender);
		uint32_t type = m.header.message_type;
		unsigned want = type == HVMSG_X64_IO_PORT_INTERCEPT ? sizeof(struct hv_x64_io_port_intercept_message) :
				type == HVMSG_UNMAPPED_GPA ? sizeof(struct hv_x64_memory_intercept_message) : ~0u;

		if (m.header.payload_size < want || want > sizeof(m.payload) || !ch || !ch->worker_pid ||
		    ch->worker_ended || ch->nreq == VMMS_IO_QUEUE) {
			stray_messages++;
			rk_printf("vmms: message type 0x%x from partition %lu not handled\n", type,
				  (unsigned long)m.header.sender);
			continue;
		}
		if (type == HVMSG_UNMAPPED_GPA)
			take_gpa(ch, &m);
		else if (!take_io(ch, &m))
			continue;
		rk_proc_wake(ch->worker_pid);
		woke = true;
	}
	return woke;
}

int64_t vmms_worker_next(uint32_t pid, struct rk_io_request *out)
{
	struct rk_child *ch = child_by_worker(pid);

	if (!ch || ch->busy)
		return -RK_EINVAL;
	if (ch->nreq) {
		ch->cur = ch->req[ch->head];
		ch->head = (ch->head + 1) % VMMS_IO_QUEUE;
		ch->nreq--;
		ch->busy = true;
		*out = ch->cur.req;
		out->partition = ch->id;
		out->ref_time = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		if (out->kind == RK_REQ_IO && out->write)
			out->value = ch->cur.rax & (out->size == 4 ? 0xffffffffull : out->size == 2 ? 0xffffull : 0xffull);
	} else {
		memset(out, 0, sizeof(*out));
	}
	memcpy(out->child, ch->cfg.name, sizeof(out->child) - 1);
	out->child[sizeof(out->child) - 1] = '\0';
	out->memory = ch->cfg.memory;
	out->vps = ch->cfg.vps;
	out->flags = ch->cfg.flags | (ch->multiboot ? RK_CHILD_MULTIBOOT : 0);
	if (!ch->busy)
		return ch->worker_stop ? RK_VMWP_STOPPED : -RK_EAGAIN;
	return 0;
}

int64_t vmms_worker_complete(uint32_t pid, uint64_t value)
{
	struct rk_child *ch = child_by_worker(pid);
	const struct rk_io_request *r;
	uint64_t mask, rax;

	if (!ch || !ch->busy || ch->cur.req.kind != RK_REQ_IO)
		return -RK_EINVAL;
	r = &ch->cur.req;
	ch->busy = false;
	/* IN AL/AX keeps the rest of RAX; IN EAX zero-extends (SDM Vol. 1
	 * 3.4.1.1). */
	mask = r->size == 4 ? ~0ull : r->size == 2 ? 0xffffull : 0xffull;
	rax = r->size == 4 ? (uint32_t)value : (ch->cur.rax & ~mask) | (value & mask);
	if (vid_complete_io(ch->id, r->vp, !r->write, rax, r->rip + ch->cur.len))
		return -RK_EIO;
	ch->completed++;
	return 0;
}

int64_t vmms_worker_get_regs(uint32_t pid, const uint32_t *names, unsigned n, union hv_register_value *out)
{
	struct rk_child *ch = child_by_worker(pid);

	if (!ch || !ch->busy || n < 1 || n > RK_VMWP_REGS)
		return -RK_EINVAL;
	return vid_get_registers(ch->id, ch->cur.req.vp, names, n, out) ? -RK_EIO : 0;
}

int64_t vmms_worker_resume(uint32_t pid, const uint32_t *names, const uint64_t *values, unsigned n)
{
	struct rk_child *ch = child_by_worker(pid);
	struct hv_register_assoc r[RK_VMWP_SET_REGS];

	if (!ch || !ch->busy || n > RK_VMWP_SET_REGS)
		return -RK_EINVAL;
	/* What emulating an instruction changes, and nothing else: the
	 * general registers and RIP. */
	for (unsigned i = 0; i < n; i++) {
		if (names[i] < HV_X64_REGISTER_RAX || names[i] > HV_X64_REGISTER_RIP)
			return -RK_EINVAL;
		r[i] = (struct hv_register_assoc){ .name = names[i], .value.reg64 = values[i] };
	}
	ch->busy = false;
	if (vid_complete(ch->id, ch->cur.req.vp, r, n))
		return -RK_EIO;
	ch->completed++;
	return 0;
}

int64_t vmms_worker_crash(uint32_t pid)
{
	struct rk_child *ch = child_by_worker(pid);

	if (!ch || !ch->busy)
		return -RK_EINVAL;
	/* The access is never completed: the VP stays suspended on it, and
	 * every VP is paused for good, as after a debug-exit write. */
	ch->busy = false;
	ch->refused++;
	ch->crashed = true;
	set_suspend(ch, ch->cfg.vps, 1);
	return 0;
}

int64_t vmms_worker_exit(uint32_t pid, uint64_t value)
{
	struct rk_child *ch = child_by_worker(pid);
	int64_t r;

	if (!ch || !ch->busy || ch->cur.req.kind != RK_REQ_IO || !ch->cur.req.write ||
	    ch->cur.req.port < CHILD_DEBUG_EXIT_PORT || ch->cur.req.port > CHILD_DEBUG_EXIT_PORT + 3)
		return -RK_EINVAL;
	r = vmms_worker_complete(pid, 0);
	if (r)
		return r;
	ch->exited = true;
	ch->exit_value = (uint32_t)value;
	/* It stops here: no VP runs again. */
	set_suspend(ch, ch->cfg.vps, 1);
	return 0;
}

bool vmms_worker_has_console(uint32_t pid)
{
	struct rk_child *ch = child_by_worker(pid);

	return ch && (ch->cfg.flags & HV_BOOT_PART_CONSOLE);
}

bool vmms_console_exit(uint32_t *value)
{
	for (unsigned i = 0; i < nchildren; i++)
		if ((children[i].cfg.flags & HV_BOOT_PART_CONSOLE) && children[i].exited) {
			*value = children[i].exit_value;
			return true;
		}
	return false;
}

int64_t vmms_worker_synic(uint32_t pid, uint64_t op, uint64_t vp, uint64_t sint, uint64_t conn)
{
	struct rk_child *ch = child_by_worker(pid);
	uint16_t st;

	if (!ch || !(ch->cfg.flags & HV_BOOT_PART_SYNIC_TEST_DEVICE) || op < RK_SYNIC_ROUTE_CREATE ||
	    op > RK_SYNIC_EVT_CONN_DESTROY || vp > 0xff || sint > 0xff || conn > 0xff)
		return -RK_EINVAL;
	st = synicdev_command(ch->id, (unsigned)(ch - children), (uint32_t)op, (uint32_t)vp, (uint32_t)sint,
			      (uint32_t)conn);
	ch->synic_commands++;
	ch->synic_failed += st != HV_STATUS_SUCCESS;
	return st;
}

/* Create, fill and start one child; it is left running or stopped. */
static void child_start(struct rk_child *ch, const struct hv_bootinfo *bi)
{
	struct hv_input_create_partition cp = { .compatibility_version = 0 };
	struct hv_output_create_partition out;
	struct hv_input_create_vp cv = { 0 };
	uint64_t entry, mbi = 0, r;
	const struct hv_boot_module *m = ch->cfg.module < bi->module_count ? &bi->modules[ch->cfg.module] : NULL;

	r = vid_call_deposit(HV_PARTITION_ID_SELF, HVCALL_CREATE_PARTITION, 0, &cp, sizeof(cp), &out, sizeof(out));
	if (status(r)) {
		rk_printf("vmms: %s: HvCallCreatePartition: status 0x%x\n", ch->cfg.name, status(r));
		return;
	}
	ch->id = out.partition_id;
	set_state(ch, RK_CHILD_CREATED);
	r = vid_call_deposit(ch->id, HVCALL_INITIALIZE_PARTITION, 0, &ch->id, 8, NULL, 0);
	for (unsigned v = 0; !status(r) && v < ch->cfg.vps; v++) {
		cv = (struct hv_input_create_vp){ .partition_id = ch->id, .vp_index = v };
		r = vid_call_deposit(ch->id, HVCALL_CREATE_VP, 0, &cv, sizeof(cv), NULL, 0);
	}
	/* A kernel with a multiboot header boots as one; its other VPs wait
	 * for its INIT and SIPI. */
	ch->multiboot = m && rk_mb_find(rk_va(m->base), m->length) >= 0;
	if (status(r) || !m || child_memory(ch) ||
	    (ch->multiboot ? child_load_mb(ch, m, &entry, &mbi) || child_registers_mb(ch, entry, mbi) ||
				     child_apics_mb(ch)
			   : child_load(ch, m, &entry) || child_registers(ch, entry)) ||
	    child_devices(ch) || set_suspend(ch, 1, 0) || (!ch->multiboot && child_start_aps(ch, entry))) {
		rk_printf("vmms: %s: not started (last status 0x%x)\n", ch->cfg.name, status(r));
		set_state(ch, RK_CHILD_STOPPED);
		return;
	}
	ch->started = rdtsc();
	set_state(ch, RK_CHILD_RUNNING);
}

/* A running child finished (its mailbox says so and its VP halted), was
 * stopped by the hypervisor, or ran out of time. */
static bool child_check(struct rk_child *ch)
{
	static const uint32_t names[3] = { HV_REGISTER_INTERNAL_ACTIVITY_STATE, HV_X64_REGISTER_RFLAGS,
					   HV_REGISTER_DISPATCH_SUSPEND };
	uint64_t r[3];
	bool halted;

	/* Halted with interrupts on, a VP waits for one (SDM Vol. 2A, HLT):
	 * only a HLT with RFLAGS.IF = 0 is the end (registers that cannot
	 * be read count as the end too). */
	get_regs(ch, names, 3, r);
	halted = r[0] == ~0ull || ((r[0] & HV_INTERNAL_ACTIVITY_HALT_SUSPEND) && !(r[1] & RFLAGS_IF));

	if (ch->exited || ch->crashed) {
		/* its debug-exit port, or its worker stopped it: done */
	} else if (r[2] == 1) {
		rk_notice("vmms: %s: stopped by the hypervisor\n", ch->cfg.name);
		ch->faulted = true;
	} else if (halted) {
		/* done */
	} else if (rdtsc() - ch->started > (ch->multiboot ? VMMS_MB_BUDGET : VMMS_CHILD_BUDGET)) {
		set_suspend(ch, ch->cfg.vps, 1);
		set_state(ch, RK_CHILD_PAUSED);
		rk_notice("vmms: %s: paused after %lu cycles without finishing\n", ch->cfg.name,
			  (unsigned long)(ch->multiboot ? VMMS_MB_BUDGET : VMMS_CHILD_BUDGET));
	} else {
		return false;
	}
	set_state(ch, RK_CHILD_STOPPED);
	return true;
}

static void child_report(struct rk_child *ch)
{
	const struct hv_child_mailbox *mb = ch->mailbox;
	const char *p, *end;

	if (ch->multiboot && !ch->crashed) {
		if (ch->exited)
			rk_report(true, "%s: wrote %u to its debug-exit port", ch->cfg.name, ch->exit_value);
		else
			rk_report(false, "%s: did not write its debug-exit port", ch->cfg.name);
		return;
	}
	/* A child its worker stopped did not finish: what it logged until
	 * then, and the failure. */
	if (!mb || mb->magic != CHILD_MAILBOX_MAGIC || (!mb->done && !ch->crashed)) {
		if (ch->crashed)
			rk_report(false, "%s: stopped by its worker: an access it could not emulate", ch->cfg.name);
		else
			rk_report(false, "%s: finished and reported (mailbox %s)", ch->cfg.name,
				  mb ? "not done" : "missing");
		return;
	}
	p = mb->log;
	end = mb->log + (mb->log_len < CHILD_LOG_BYTES ? mb->log_len : CHILD_LOG_BYTES);
	while (p < end) {
		const char *nl = p;

		while (nl < end && *nl != '\n')
			nl++;
		rk_printf("%s| %.*s\n", ch->cfg.name, (int)(nl - p), p);
		p = nl + 1;
	}
	if (ch->crashed) {
		rk_report(false, "%s: stopped by its worker: an access it could not emulate", ch->cfg.name);
		return;
	}
	rk_report(mb->status == 0 && mb->checks > 0,
		  "%s: %u checks, %u failed, %u hypercalls, workload %lu cycles", ch->cfg.name, mb->checks,
		  mb->status, mb->hypercalls, (unsigned long)mb->cycles);
}

static void child_teardown(struct rk_child *ch)
{
	uint64_t pages = 0, r;

	if (!ch->id)
		return;
	r = vid_call(HVCALL_FINALIZE_PARTITION, 0, &ch->id, 8, NULL, 0);
	if (!status(r))
		r = vid_withdraw_all(ch->id, &pages);
	if (!status(r))
		r = vid_call(HVCALL_DELETE_PARTITION, 0, &ch->id, 8, NULL, 0);
	rk_report(status(r) == 0, "%s: finalized, %lu pages withdrawn, deleted (status 0x%x)", ch->cfg.name,
		  (unsigned long)pages, status(r));
	for (uint64_t g = 0; g < ch->npages; g++)
		rk_page_free(*page_slot(ch, g));
	for (unsigned i = 0; i < RK_CHILD_DIR_PAGES && ch->dir[i]; i++)
		rk_page_free(ch->dir[i]);
	ch->npages = 0;
}

void vmms_run(const struct hv_bootinfo *bi)
{
	uint64_t free_before;
	unsigned running = 0;

	if (vid_init() || vid_synic_init()) {
		rk_report(false, "vmms: the hypercall interface (privileges, hypercall page) and the SynIC");
		return;
	}
	free_before = rk_pages_free();
	nchildren = bi->partition_count < HV_BOOT_MAX_PARTITIONS ? bi->partition_count : HV_BOOT_MAX_PARTITIONS;
	for (unsigned i = 0; i < nchildren; i++) {
		children[i] = (struct rk_child){ .cfg = bi->partitions[i] };
		children[i].cfg.name[sizeof(children[i].cfg.name) - 1] = '\0';
		child_start(&children[i], bi);
		running += children[i].state == RK_CHILD_RUNNING;
	}
	run_workers();		/* each reaches its first wait */
	rk_tick_start();	/* the PIT ticks while they run (irq.c) */
	/* Let them run: give the LP away; serve intercepts, look, again.
	 * Interrupts are on around the wait, the root's idle point: the
	 * hypervisor injects a tick that came while the children ran as
	 * soon as it returns.  On one LP the children share the root's LP:
	 * the spin-wait call gives it to them for a slice.  On more, they
	 * run on the others (docs/hypervisor.md "Scheduling") and the root
	 * waits in HLT, which the hypervisor ends for an intercept message
	 * or a child that halted (SINT0 is polled and raises nothing) and
	 * the tick ends otherwise: looking in a loop instead would take
	 * each child's VMCS from its LP at every look. */
	while (running) {
		if (bi->lp_count > 1) {
			rk_irq_wait();
		} else {
			struct hv_input_notify_long_spin_wait spin = { .spin_count = 1 };

			asm volatile("sti" : : : "memory");
			vid_call(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, &spin, sizeof(spin), NULL, 0);
			asm volatile("cli" : : : "memory");
		}
		/* A turn that served intercepts gives the LP straight back:
		 * the children's state (two GetVpRegisters each) is looked
		 * at on a quiet turn, off the I/O round trip. */
		if (take_intercepts()) {
			run_workers();
			continue;
		}
		for (unsigned i = 0; i < nchildren; i++)
			if (children[i].state == RK_CHILD_RUNNING) {
				childmsg_turn(&children[i], i);
				if (child_check(&children[i]))
					running--;
			}
	}
	/* The children are done: their workers report and exit. */
	for (unsigned i = 0; i < nchildren; i++) {
		children[i].worker_stop = true;
		if (children[i].worker_pid)
			rk_proc_wake(children[i].worker_pid);
	}
	run_workers();
	for (unsigned i = 0; i < nchildren; i++) {
		struct rk_child *ch = &children[i];

		if (ch->id)
			child_report(ch);
		if (ch->worker_pid)
			rk_report(ch->worker_ended && ch->worker_status == 0 && ch->completed + ch->refused == ch->taken,
				  "%s: worker pid %u exited %ld; intercepts: %lu taken, %lu completed, %lu refused",
				  ch->cfg.name, ch->worker_pid, (long)ch->worker_status, (unsigned long)ch->taken,
				  (unsigned long)ch->completed, (unsigned long)ch->refused);
		childmsg_report(ch);
		if (ch->synic_commands)
			rk_printf("vmms: %s: SynIC test device: %lu commands, %lu refused by the hypervisor\n",
				  ch->cfg.name, (unsigned long)ch->synic_commands, (unsigned long)ch->synic_failed);
		child_teardown(ch);
	}
	rk_report(stray_messages == 0, "every intercept message was for a child's worker (%lu were not)",
		  (unsigned long)stray_messages);
	rk_report(vid_deposited == 0, "every page deposited for the children came back (%lu outstanding)",
		  (unsigned long)vid_deposited);
	rk_report(rk_pages_free() + vid_deposited_self == free_before,
		  "root memory: %lu pages free, %lu in the root's own pool (before: %lu free)",
		  (unsigned long)rk_pages_free(), (unsigned long)vid_deposited_self, (unsigned long)free_before);
}
