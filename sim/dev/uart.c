/* 16550A UART (register set and interrupt logic from the National
 * Semiconductor PC16550D data sheet: register summary, Interrupt
 * Identification Register and its interrupt control functions table).
 *
 * Transmission is instantaneous: a byte written to THR is on the console
 * at once, so LSR always reports THRE and TEMT.  There is no external
 * input.  Loopback (MCR bit 4) is modelled as the data sheet describes,
 * because drivers probe for a UART with it: the modem-control outputs
 * appear on the MSR inputs, and a transmitted byte is received into RBR
 * instead of leaving the chip.  The receiver is one byte deep even in FIFO
 * mode (no trigger levels, no character timeout); FCR only turns on the
 * FIFO-enabled bits of IIR and clears the receiver.
 *
 * The interrupt output is not gated by MCR.OUT2 (as on QEMU's 16550, which
 * freestanding test kernels are written against): the IRQ line follows
 * IIR bit 0 directly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"

/* Register offsets (PC16550D register summary). */
#define UART_RBR 0	/* read, DLAB=0 */
#define UART_THR 0	/* write, DLAB=0 */
#define UART_DLL 0	/* DLAB=1 */
#define UART_IER 1	/* DLAB=0 */
#define UART_DLM 1	/* DLAB=1 */
#define UART_IIR 2	/* read */
#define UART_FCR 2	/* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_NREGS 8

#define IER_ERBFI 0x01	/* received data available */
#define IER_ETBEI 0x02	/* transmitter holding register empty */
#define IER_ELSI 0x04	/* receiver line status */
#define IER_EDSSI 0x08	/* modem status */

#define IIR_NO_INT 0x01
#define IIR_ID_MSR 0x00
#define IIR_ID_THRE 0x02
#define IIR_ID_RDA 0x04
#define IIR_ID_RLS 0x06
#define IIR_FIFO_ENABLED 0xC0

#define FCR_FIFO_ENABLE 0x01
#define FCR_RCVR_RESET 0x02

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1F	/* bits 5-7 are always 0 on the 16550A */

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTAS 0x0F

/* Outside loopback the console is a connected, always-ready terminal. */
#define MSR_LINES_CONNECTED (MSR_CTS | MSR_DSR | MSR_DCD)

struct uart {
	struct irq_line irq;
	FILE *console;
	int irq_level;

	uint8_t rbr, ier, lcr, mcr, lsr_errors, scr;
	uint8_t msr_lines;	/* MSR bits 4-7 */
	uint8_t msr_deltas;	/* MSR bits 0-3 */
	uint8_t dll, dlm;
	int fifo_enabled;
	int data_ready;
	int thre_pending;	/* the THRE interrupt, until IIR read or THR write */

	char *out;		/* transmitted bytes, NUL-terminated */
	size_t out_len, out_cap;
};

/* Interrupt identification in priority order (PC16550D, IIR). */
static uint8_t uart_iir(const struct uart *u)
{
	uint8_t id;

	if ((u->ier & IER_ELSI) && u->lsr_errors)
		id = IIR_ID_RLS;
	else if ((u->ier & IER_ERBFI) && u->data_ready)
		id = IIR_ID_RDA;
	else if ((u->ier & IER_ETBEI) && u->thre_pending)
		id = IIR_ID_THRE;
	else if ((u->ier & IER_EDSSI) && u->msr_deltas)
		id = IIR_ID_MSR;
	else
		id = IIR_NO_INT;
	return id | (u->fifo_enabled ? IIR_FIFO_ENABLED : 0);
}

static void uart_update_irq(struct uart *u)
{
	int level = !(uart_iir(u) & IIR_NO_INT);

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->irq, level);
	}
}

/* Model lines seen on the MSR inputs: in loopback, the MCR outputs are
 * wired back (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD; PC16550D MCR bit 4
 * description).  Deltas latch until MSR is read; TERI is set on the
 * trailing edge of RI only. */
static void uart_set_msr_lines(struct uart *u, uint8_t lines)
{
	uint8_t changed = lines ^ u->msr_lines;

	if (changed & MSR_CTS)
		u->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_deltas |= MSR_DDSR;
	if ((changed & MSR_RI) && !(lines & MSR_RI))
		u->msr_deltas |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_deltas |= MSR_DDCD;
	u->msr_lines = lines;
}

static uint8_t uart_loop_lines(uint8_t mcr)
{
	uint8_t l = 0;

	if (mcr & MCR_RTS)
		l |= MSR_CTS;
	if (mcr & MCR_DTR)
		l |= MSR_DSR;
	if (mcr & MCR_OUT1)
		l |= MSR_RI;
	if (mcr & MCR_OUT2)
		l |= MSR_DCD;
	return l;
}

static void uart_emit(struct uart *u, uint8_t c)
{
	if (u->console) {
		fputc(c, u->console);
		if (c == '\n')
			fflush(u->console);
	}
	if (u->out_len + 2 > u->out_cap) {
		size_t cap = u->out_cap ? u->out_cap * 2 : 256;
		char *p = realloc(u->out, cap);

		/* Out of host memory: the console still gets the byte, the
		 * report copy stops growing. */
		if (!p)
			return;
		u->out = p;
		u->out_cap = cap;
	}
	u->out[u->out_len++] = (char)c;
	u->out[u->out_len] = '\0';
}

static void uart_transmit(struct uart *u, uint8_t c)
{
	/* Writing THR clears a pending THRE interrupt (IIR reset
	 * control)... */
	u->thre_pending = 0;
	uart_update_irq(u);
	if (u->mcr & MCR_LOOP) {
		/* The transmitter output is looped to the receiver; a byte
		 * arriving while RBR is still full is an overrun. */
		if (u->data_ready)
			u->lsr_errors |= LSR_OE;
		u->rbr = c;
		u->data_ready = 1;
	} else {
		uart_emit(u, c);
	}
	/* ...and the byte leaves at once, so THR is empty again and the
	 * interrupt is raised anew: an edge for the interrupt controller, and
	 * the next "ready for more" for an interrupt-driven driver. */
	u->thre_pending = 1;
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	uint8_t v, iir;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		v = u->data_ready ? u->rbr : 0;
		u->data_ready = 0;
		return v;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			return u->dlm;
		return u->ier;
	case UART_IIR:
		iir = uart_iir(u);
		/* Reading IIR clears THRE only when it is the source
		 * reported (IIR reset control). */
		if ((iir & 0x0F) == IIR_ID_THRE)
			u->thre_pending = 0;
		return iir;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | u->lsr_errors | (u->data_ready ? LSR_DR : 0);
		u->lsr_errors = 0;	/* error bits clear on read */
		return v;
	case UART_MSR:
		v = u->msr_lines | u->msr_deltas;
		u->msr_deltas = 0;
		return v;
	case UART_SCR:
		return u->scr;
	default:
		/* Beyond the eight registers (a wide access at the top of the
		 * range): nothing drives the bus. */
		return 0xFF;
	}
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling ETBEI while THR is empty raises THRE at once, as
		 * on the 8250 family (drivers "kick" transmission this way). */
		if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
			u->thre_pending = 1;
		u->ier = v & 0x0F;	/* bits 4-7 always read 0 */
		break;
	case UART_FCR:
		/* Switching between FIFO and 16450 mode clears the receiver;
		 * the other FCR bits are programmed only with FCR0 set. */
		if ((v & FCR_FIFO_ENABLE) != u->fifo_enabled ||
		    ((v & FCR_FIFO_ENABLE) && (v & FCR_RCVR_RESET)))
			u->data_ready = 0;
		u->fifo_enabled = v & FCR_FIFO_ENABLE;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		uart_set_msr_lines(u, (u->mcr & MCR_LOOP) ? uart_loop_lines(u->mcr)
							  : MSR_LINES_CONNECTED);
		break;
	case UART_LSR:
	case UART_MSR:
		/* Writable only in factory test mode; ignored. */
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break;
	}
}

/* A 16- or 32-bit access is split into byte cycles at consecutive
 * offsets, as the ISA bus does for an 8-bit device. */
static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart *u = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = offset + i;

		v |= (uint64_t)uart_read_reg(u, reg < UART_NREGS ? (unsigned)reg : UART_NREGS)
		     << (8 * i);
	}
	uart_update_irq(u);
	return v;
}

static void uart_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct uart *u = opaque;

	for (unsigned i = 0; i < size && i < 8; i++)
		if (offset + i < UART_NREGS)
			uart_write_reg(u, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
	uart_update_irq(u);
}

struct uart *uart_new(struct memmap *m, uint16_t base, struct irq_line irq, FILE *console)
{
	struct uart *u = calloc(1, sizeof(*u));
	struct memmap_ports p = {
		.base = base,
		.count = UART_NREGS,
		.read = uart_read,
		.write = uart_write,
		.name = "uart16550a",
	};
	int ret;

	if (!u)
		return NULL;
	u->irq = irq;
	u->console = console;
	u->msr_lines = MSR_LINES_CONNECTED;
	/* The divisor latch is undefined after reset; start at 12 (9600
	 * baud from the PC's 1.8432 MHz clock), as a BIOS would leave it. */
	u->dll = 12;
	u->out = malloc(1);
	if (!u->out) {
		free(u);
		return NULL;
	}
	u->out[0] = '\0';
	u->out_cap = 1;
	p.opaque = u;
	ret = memmap_add_ports(m, &p);
	if (ret < 0) {
		free(u->out);
		free(u);
		errno = -ret;
		return NULL;
	}
	return u;
}

void uart_free(struct uart *u)
{
	if (!u)
		return;
	if (u->console)
		fflush(u->console);
	free(u->out);
	free(u);
}

const char *uart_output(const struct uart *u, size_t *len)
{
	if (len)
		*len = u->out_len;
	return u->out;
}
