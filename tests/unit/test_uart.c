#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "memmap.h"

#define BASE UART_COM1_BASE
#define THR (BASE + 0)
#define DLL (BASE + 0)
#define IER (BASE + 1)
#define DLM (BASE + 1)
#define IIR (BASE + 2)
#define FCR (BASE + 2)
#define LCR (BASE + 3)
#define MCR (BASE + 4)
#define LSR (BASE + 5)
#define MSR (BASE + 6)
#define SCR (BASE + 7)

struct fake_irq {
	int level;
	unsigned n;
	int raises, lowers, calls;
};

static void fake_irq_set(void *opaque, unsigned n, int level)
{
	struct fake_irq *f = opaque;

	f->calls++;
	f->n = n;
	if (level && !f->level)
		f->raises++;
	if (!level && f->level)
		f->lowers++;
	f->level = level;
}

static struct memmap *m;
static struct uart *u;
static struct fake_irq irq;
static char *console_buf;
static size_t console_len;
static FILE *console;

static void setup(void)
{
	memset(&irq, 0, sizeof(irq));
	m = memmap_new(1 << 20);
	cr_assert_not_null(m);
	console = open_memstream(&console_buf, &console_len);
	cr_assert_not_null(console);
	u = uart_new(m, BASE, (struct irq_line){ fake_irq_set, &irq, 4 }, console);
	cr_assert_not_null(u);
}

static void teardown(void)
{
	uart_free(u);
	fclose(console);
	free(console_buf);
	memmap_free(m);
}

static uint8_t in8(uint16_t port)
{
	return (uint8_t)memmap_port_in(m, port, 1);
}

static void out8(uint16_t port, uint8_t v)
{
	memmap_port_out(m, port, v, 1);
}

static void puts_uart(const char *s)
{
	while (*s)
		out8(THR, (uint8_t)*s++);
}

TestSuite(uart, .init = setup, .fini = teardown);

Test(uart, transmitted_bytes_reach_console_and_output)
{
	size_t len = 0;

	puts_uart("hello\n");
	cr_assert_str_eq(uart_output(u, &len), "hello\n");
	cr_assert_eq(len, 6);
	fflush(console);
	cr_assert_eq(console_len, 6);
	cr_assert_eq(memcmp(console_buf, "hello\n", 6), 0);
}

Test(uart, output_is_empty_and_terminated_before_any_write)
{
	size_t len = 99;

	cr_assert_str_eq(uart_output(u, &len), "");
	cr_assert_eq(len, 0);
}

Test(uart, output_buffer_grows_past_initial_size)
{
	size_t len;
	const char *o;

	for (int i = 0; i < 5000; i++)
		out8(THR, (uint8_t)('a' + i % 26));
	o = uart_output(u, &len);
	cr_assert_eq(len, 5000);
	cr_assert_eq(o[0], 'a');
	cr_assert_eq(o[4999], 'a' + 4999 % 26);
	cr_assert_eq(o[5000], '\0');
}

Test(uart, null_console_still_keeps_output)
{
	struct memmap *m2 = memmap_new(1 << 20);
	struct uart *u2 = uart_new(m2, 0x2F8, (struct irq_line){ 0 }, NULL);
	size_t len;

	cr_assert_not_null(u2);
	memmap_port_out(m2, 0x2F8, 'x', 1);
	cr_assert_str_eq(uart_output(u2, &len), "x");
	uart_free(u2);
	memmap_free(m2);
}

Test(uart, lsr_reports_transmitter_empty)
{
	cr_assert_eq(in8(LSR), 0x60);
	puts_uart("abc");
	cr_assert_eq(in8(LSR), 0x60, "THRE|TEMT even right after transmitting, DR clear");
}

Test(uart, rbr_reads_zero_without_input)
{
	cr_assert_eq(in8(BASE), 0);
	cr_assert_eq(in8(LSR) & 0x01, 0);
}

Test(uart, dlab_divisor_latch_does_not_emit_output)
{
	size_t len;

	out8(IER, 0x05);
	out8(LCR, 0x83);	/* DLAB, 8N1 */
	out8(DLL, 0x01);	/* 115200 baud */
	out8(DLM, 0x00);
	cr_assert_eq(in8(DLL), 0x01);
	cr_assert_eq(in8(DLM), 0x00);
	uart_output(u, &len);
	cr_assert_eq(len, 0, "divisor writes are not characters");
	out8(LCR, 0x03);
	cr_assert_eq(in8(IER), 0x05, "IER unchanged by the DLM write");
	cr_assert_eq(in8(LCR), 0x03);
	out8(THR, 'Z');
	cr_assert_str_eq(uart_output(u, &len), "Z");
}

Test(uart, scratch_register_holds_any_value)
{
	out8(SCR, 0xA5);
	cr_assert_eq(in8(SCR), 0xA5);
	out8(SCR, 0x5A);
	cr_assert_eq(in8(SCR), 0x5A);
}

Test(uart, iir_reports_no_interrupt_at_reset)
{
	cr_assert_eq(in8(IIR), 0x01);
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(irq.raises, 0);
}

Test(uart, fifo_enable_sets_iir_high_bits)
{
	out8(FCR, 0x07);
	cr_assert_eq(in8(IIR), 0xC1);
	out8(FCR, 0x00);
	cr_assert_eq(in8(IIR), 0x01);
}

Test(uart, enabling_etbei_raises_thre_interrupt_and_line)
{
	out8(IER, 0x02);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(irq.n, 4, "the line's own input number is reported");
	cr_assert_eq(in8(IIR), 0x02);
}

Test(uart, reading_iir_clears_thre_and_lowers_line)
{
	out8(IER, 0x02);
	cr_assert_eq(in8(IIR), 0x02);
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in8(IIR), 0x01, "THRE was consumed by the first read");
}

Test(uart, thr_write_clears_thre_then_raises_it_again)
{
	out8(IER, 0x02);
	cr_assert_eq(irq.raises, 1);
	out8(THR, 'a');
	/* Cleared by the write, raised again when the byte left: an edge. */
	cr_assert_eq(irq.lowers, 1);
	cr_assert_eq(irq.raises, 2);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in8(IIR), 0x02);
	cr_assert_eq(irq.level, 0);
	out8(THR, 'b');
	cr_assert_eq(irq.level, 1, "next byte sent: THR empty again");
	cr_assert_eq(irq.raises, 3);
}

Test(uart, no_interrupt_when_etbei_clear)
{
	puts_uart("xyz");
	cr_assert_eq(irq.raises, 0);
	cr_assert_eq(in8(IIR), 0x01);
}

Test(uart, clearing_etbei_lowers_line)
{
	out8(IER, 0x02);
	cr_assert_eq(irq.level, 1);
	out8(IER, 0x00);
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in8(IIR), 0x01);
	cr_assert_eq(in8(IER), 0x00);
}

Test(uart, ier_upper_bits_read_zero)
{
	out8(IER, 0xF0);
	cr_assert_eq(in8(IER), 0x00);
}

Test(uart, loopback_mirrors_modem_control_on_msr)
{
	/* Linux's 8250 probe: MCR = LOOP | OUT2 | RTS must read CTS|DCD. */
	out8(MCR, 0x1A);
	cr_assert_eq(in8(MSR) & 0xF0, 0x90);
	out8(MCR, 0x1F);
	cr_assert_eq(in8(MSR) & 0xF0, 0xF0);
}

Test(uart, msr_reports_connected_lines_outside_loopback)
{
	cr_assert_eq(in8(MSR), 0xB0);	/* DCD, DSR, CTS; no deltas */
}

Test(uart, loopback_byte_is_received_not_output)
{
	size_t len;

	out8(MCR, 0x10);
	out8(THR, 'q');
	uart_output(u, &len);
	cr_assert_eq(len, 0);
	cr_assert_eq(in8(LSR) & 0x01, 0x01, "DR set");
	cr_assert_eq(in8(BASE), 'q');
	cr_assert_eq(in8(LSR) & 0x01, 0x00, "DR cleared by reading RBR");
}

Test(uart, loopback_receive_interrupt_has_priority_over_thre)
{
	out8(MCR, 0x10);
	out8(IER, 0x03);
	out8(THR, 'r');
	cr_assert_eq(in8(IIR), 0x04);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in8(BASE), 'r');
	cr_assert_eq(in8(IIR), 0x02, "THRE still pending under RDA");
}

Test(uart, wide_access_splits_into_byte_registers)
{
	/* A 16-bit OUT to LCR writes LCR and MCR, as on an 8-bit ISA device. */
	memmap_port_out(m, LCR, 0x0103, 2);
	cr_assert_eq(in8(LCR), 0x03);
	cr_assert_eq(in8(MCR), 0x01);
	/* At the top of the range the byte past SCR reads as a floating bus. */
	out8(SCR, 0x42);
	cr_assert_eq(memmap_port_in(m, SCR, 2), 0xFF42);
}
