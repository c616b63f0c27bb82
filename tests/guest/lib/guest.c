/* Guest test runtime: console, report(), exit, IDT/TSS and the exception
 * dispatcher (see guest.h). */
#include "guest.h"

/* ---- console and reports ---- */

int vprintf(const char *fmt, va_list ap)
{
	return fw_vformat(fw_uart_putc_cb, NULL, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

static unsigned report_passed, report_failed, report_skipped;

static void report_line(const char *tag, const char *fmt, va_list ap)
{
	fw_uart_puts(tag);
	vprintf(fmt, ap);
	fw_uart_putc('\n');
}

bool report(bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line(pass ? "PASS: " : "FAIL: ", fmt, ap);
	va_end(ap);
	if (pass)
		report_passed++;
	else
		report_failed++;
	return pass;
}

void report_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line("SKIP: ", fmt, ap);
	va_end(ap);
	report_skipped++;
}

unsigned report_failures(void)
{
	return report_failed;
}

int report_summary(void)
{
	printf("SUMMARY: %u passed, %u failed, %u skipped\n", report_passed, report_failed,
	       report_skipped);
	if (report_failed)
		return GUEST_EXIT_FAIL;
	if (!report_passed && report_skipped)
		return GUEST_EXIT_SKIP;
	if (!report_passed) {
		printf("FAIL: the test checked nothing\n");
		return GUEST_EXIT_FAIL;
	}
	return GUEST_EXIT_PASS;
}

void guest_exit(uint32_t code)
{
	/* isa-debug-exit: a 32-bit OUT ends the run.  If no device is
	 * there, halt with interrupts off (hvsim ends the run on that too). */
	outl(GUEST_DEBUG_EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

void guest_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line("SKIP: ", fmt, ap);
	va_end(ap);
	guest_exit(GUEST_EXIT_SKIP);
}

uint64_t guest_cmdline_value(struct multiboot_info *info, const char *key)
{
	const char *s = info && (info->flags & MULTIBOOT_INFO_CMDLINE) ?
				(const char *)(uintptr_t)info->cmdline : NULL;
	const char *p = s ? strstr(s, key) : NULL;
	uint64_t v = 0;

	if (!p)
		return 0;
	for (p += strlen(key); *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

/* ---- exceptions ---- */

/* 64-bit interrupt gate (SDM Vol. 3A 6.14.1, figure 6-8). */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;		/* bits 2:0 */
	uint8_t type_attr;	/* P | DPL | type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

/* 64-bit TSS (SDM Vol. 3A 8.7, figure 8-11). */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define IDT_VECTORS 256
#define EXC_VECTORS 32
#define GATE_INTERRUPT_64 0x8e	/* P = 1, DPL 0, type 0xE */
#define TSS_AVAILABLE_64 0x89	/* P = 1, type 0x9 */

struct ex_entry {
	uint64_t fault, fixup;
};

extern const uint64_t exc_stubs[EXC_VECTORS];
extern const uint8_t irq_stubs[];
static irq_handler_fn *irq_handlers[IDT_VECTORS];
extern const struct ex_entry __ex_table_start[], __ex_table_end[];

static struct idt_gate guest_idt[IDT_VECTORS] __attribute__((aligned(16)));
static struct tss64 guest_tss __attribute__((aligned(16)));
uint8_t guest_ist1_stack[GUEST_IST_STACK_SIZE] __attribute__((aligned(16)));
struct exc_record exc_last = { .vector = EXC_NONE };

/* Weak default: tests that want the 32-bit #DE probe define it as 1. */
__attribute__((weak)) const uint8_t boot32_probe_exceptions = 0;

static const char *const exc_names[EXC_VECTORS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
	"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
};

void exc_dispatch(struct exc_regs *r);

void irq_set_handler(unsigned vector, irq_handler_fn *fn)
{
	if ((vector >= EXC_VECTORS && vector < IDT_VECTORS) || vector == NMI_VECTOR)
		irq_handlers[vector] = fn;
}

void exc_dispatch(struct exc_regs *r)
{
	const struct ex_entry *e;

	if (r->vector < IDT_VECTORS && irq_handlers[r->vector]) {
		irq_handlers[r->vector](r);
		return;
	}

	exc_last.vector = (int)r->vector;
	exc_last.error_code = r->error_code;
	exc_last.rip = r->rip;
	exc_last.cs = r->cs;
	exc_last.rflags = r->rflags;
	exc_last.rsp = r->rsp;
	exc_last.ss = r->ss;
	exc_last.cr2 = r->vector == PF_VECTOR ? read_cr2() : 0;
	exc_last.frame = (uintptr_t)r;
	exc_last.count++;

	for (e = __ex_table_start; e < __ex_table_end; e++) {
		if (e->fault == r->rip) {
			r->rip = e->fixup;
			return;
		}
	}
	printf("FAIL: unexpected exception %s (vector %lu) error 0x%lx at RIP 0x%lx "
	       "(CS 0x%lx RFLAGS 0x%lx RSP 0x%lx CR2 0x%lx)\n",
	       r->vector < EXC_VECTORS ? exc_names[r->vector] : "interrupt", (unsigned long)r->vector,
	       (unsigned long)r->error_code, (unsigned long)r->rip, (unsigned long)r->cs,
	       (unsigned long)r->rflags, (unsigned long)r->rsp, (unsigned long)read_cr2());
	report_failed++;
	report_summary();
	guest_exit(GUEST_EXIT_FAIL);
}

void exc_set_ist(unsigned vector, unsigned ist)
{
	if (vector < EXC_VECTORS && ist <= 1)
		guest_idt[vector].ist = (uint8_t)ist;
}

static void guest_setup_tss(void)
{
	uint64_t base = (uintptr_t)&guest_tss;
	uint64_t limit = sizeof(guest_tss) - 1;

	guest_tss.ist[0] = (uintptr_t)guest_ist1_stack + GUEST_IST_STACK_SIZE;
	guest_tss.iomap_base = sizeof(guest_tss);	/* no I/O bitmap */
	/* 16-byte system descriptor (SDM Vol. 3A 8.2.3, figure 8-4) */
	guest_gdt[GUEST_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
				   ((uint64_t)TSS_AVAILABLE_64 << 40) |
				   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	guest_gdt[GUEST_TSS / 8 + 1] = base >> 32;
	asm volatile("ltr %w0" : : "r"(GUEST_TSS) : "memory");
}

static void guest_setup_idt(void)
{
	struct desc_ptr idtr = { sizeof(guest_idt) - 1, (uintptr_t)guest_idt };

	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		uint64_t a = v < EXC_VECTORS ? exc_stubs[v] : (uintptr_t)irq_stubs + 16 * (v - EXC_VECTORS);

		guest_idt[v] = (struct idt_gate){
			.offset_lo = (uint16_t)a,
			.selector = GUEST_CS64,
			.ist = 0,
			.type_attr = GATE_INTERRUPT_64,
			.offset_mid = (uint16_t)(a >> 16),
			.offset_hi = (uint32_t)(a >> 32),
		};
	}
	asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

__attribute__((noreturn)) void guest_main64(uint32_t magic, uint32_t info);

void guest_main64(uint32_t magic, uint32_t info)
{
	guest_setup_tss();
	guest_setup_idt();
	test_main(magic, (struct multiboot_info *)(uintptr_t)info);
	guest_exit(report_summary());
}
