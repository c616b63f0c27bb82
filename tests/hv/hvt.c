/* The hypervisor test kernels' runtime (hvt.h): console, reports, exit,
 * exceptions, the root's memory. */
#include "hvt.h"

/* ---- console and reports ---- */

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fw_vformat(fw_uart_putc_cb, NULL, fmt, ap);
	va_end(ap);
	return n;
}

static unsigned passed, failed;

bool report(bool pass, const char *fmt, ...)
{
	va_list ap;

	fw_uart_puts(pass ? "PASS: " : "FAIL: ");
	va_start(ap, fmt);
	fw_vformat(fw_uart_putc_cb, NULL, fmt, ap);
	va_end(ap);
	fw_uart_putc('\n');
	if (pass)
		passed++;
	else
		failed++;
	return pass;
}

unsigned report_failures(void)
{
	return failed;
}

void hvt_exit(uint32_t code)
{
	/* isa-debug-exit: a 32-bit OUT ends the run (the root's ports pass
	 * through the hypervisor). */
	outl(HVT_DEBUG_EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

void report_exit(void)
{
	printf("SUMMARY: %u passed, %u failed\n", passed, failed);
	if (!passed && !failed)
		printf("FAIL: the test checked nothing\n");
	hvt_exit(failed || !passed ? HVT_EXIT_FAIL : HVT_EXIT_PASS);
}

/* ---- exceptions ---- */

/* What hvt_exc_common pushed, lowest address first. */
struct hvt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

/* 64-bit interrupt gate (SDM Vol. 3A 6.14.1). */
struct hvt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
} __attribute__((packed));

struct hvt_extable_entry {
	uint64_t fault, fixup;
};

#define HVT_VECTORS 32
#define HVT_GATE_INTR 0x8e	/* P, DPL 0, 64-bit interrupt gate */

extern const uint64_t hvt_exc_stubs[HVT_VECTORS];
extern const struct hvt_extable_entry __extable_start[], __extable_end[];

static struct hvt_gate idt[HVT_VECTORS] __attribute__((aligned(16)));
volatile int hvt_fault_vector = HVT_VEC_NONE;
volatile uint64_t hvt_fault_error;

void hvt_trap(struct hvt_frame *f);

void hvt_trap(struct hvt_frame *f)
{
	for (const struct hvt_extable_entry *e = __extable_start; e < __extable_end; e++) {
		if (e->fault == f->rip) {
			hvt_fault_vector = (int)f->vector;
			hvt_fault_error = f->error;
			f->rip = e->fixup;
			return;
		}
	}
	printf("FAIL: unexpected exception %lu error 0x%lx at RIP 0x%lx (RSP 0x%lx RFLAGS 0x%lx CR2 0x%lx)\n",
	       (unsigned long)f->vector, (unsigned long)f->error, (unsigned long)f->rip, (unsigned long)f->rsp,
	       (unsigned long)f->rflags, (unsigned long)read_cr2());
	failed++;
	report_exit();
}

void hvt_idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, hvt_pa(idt) };
	uint16_t cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	for (unsigned v = 0; v < HVT_VECTORS; v++) {
		uint64_t a = hvt_exc_stubs[v];

		idt[v] = (struct hvt_gate){
			.offset_lo = (uint16_t)a, .selector = cs, .type_attr = HVT_GATE_INTR,
			.offset_mid = (uint16_t)(a >> 16), .offset_hi = (uint32_t)(a >> 32),
		};
	}
	asm volatile("lidt %0" : : "m"(idtr));
}

int rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;

	hvt_fault_vector = HVT_VEC_NONE;
	hvt_fault_error = 0;
	asm volatile("1: rdmsr\n2:\n\t" HVT_EXTABLE("1b", "2b")
		     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = (uint64_t)hi << 32 | lo;
	return hvt_fault_vector;
}

int wrmsr_safe(uint32_t msr, uint64_t v)
{
	hvt_fault_vector = HVT_VEC_NONE;
	hvt_fault_error = 0;
	asm volatile("1: wrmsr\n2:\n\t" HVT_EXTABLE("1b", "2b")
		     : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	return hvt_fault_vector;
}

int vmcall_safe(uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t *rax)
{
	register uint64_t r8r asm("r8") = r8;
	uint64_t a = *rax;

	hvt_fault_vector = HVT_VEC_NONE;
	hvt_fault_error = 0;
	asm volatile("1: vmcall\n2:\n\t" HVT_EXTABLE("1b", "2b")
		     : "+a"(a), "+c"(rcx), "+d"(rdx), "+r"(r8r) : : "r9", "r10", "r11", "memory", "cc");
	*rax = a;
	return hvt_fault_vector;
}

/* ---- the root's memory ---- */

static struct hv_bootinfo boot;
static uint64_t next_free;	/* the allocator's cursor: nothing below it is handed out */

void hvt_mem_init(const struct hv_bootinfo *bi)
{
	boot = *bi;
	next_free = (hvt_pa(__image_end) + HVT_2M - 1) & ~(HVT_2M - 1);
}

const struct hv_bootinfo *hvt_bootinfo(void)
{
	return &boot;
}

uint64_t hvt_alloc(uint64_t n, uint64_t align)
{
	uint64_t len = n * HVT_PAGE;

	if (align < HVT_PAGE)
		align = HVT_PAGE;
	/* Available ranges in address order (hvsim's map is sorted): the
	 * first that holds the request at or above the cursor. */
	for (uint32_t i = 0; i < boot.mem_count && i < HV_BOOT_MAX_MEM; i++) {
		const struct hv_boot_mem *m = &boot.mem[i];
		uint64_t a = next_free > m->base ? next_free : m->base;

		if (m->type != HV_MEM_AVAILABLE)
			continue;
		a = (a + align - 1) & ~(align - 1);
		if (a + len <= m->base + m->length) {
			next_free = a + len;
			memset(hvt_va(a), 0, len);
			return a;
		}
	}
	return 0;
}

bool hvt_find_range(uint32_t type, uint64_t from, uint64_t *base, uint64_t *len)
{
	for (uint32_t i = 0; i < boot.mem_count && i < HV_BOOT_MAX_MEM; i++)
		if (boot.mem[i].type == type && boot.mem[i].base >= from) {
			*base = boot.mem[i].base;
			*len = boot.mem[i].length;
			return true;
		}
	return false;
}

/* ---- start ---- */

void hvt_start(const struct hv_bootinfo *bi);

void hvt_start(const struct hv_bootinfo *bi)
{
	hvt_idt_init();
	if (!bi || bi->magic != HV_BOOTINFO_MAGIC || bi->version != HV_BOOTINFO_VERSION) {
		report(false, "boot information at %p is not a struct hv_bootinfo (magic 0x%lx version %u)",
		       (const void *)bi, bi ? (unsigned long)bi->magic : 0ul, bi ? bi->version : 0u);
		report_exit();
	}
	hvt_mem_init(bi);
	hvt_main(bi);
	report_exit();
}

int hvt_interrupt_window(void)
{
	hvt_fault_vector = HVT_VEC_NONE;
	asm volatile("sti\n1:\tnop\n4:\tjmp 2f\n2:\tnop\n3:\tcli\n\t"
		     HVT_EXTABLE("1b", "3b") HVT_EXTABLE("4b", "3b") HVT_EXTABLE("2b", "3b") HVT_EXTABLE("3b", "3b")
		     ::: "memory");
	return hvt_fault_vector;
}
