/* unenlightened.elf: a child kernel that knows nothing of the hypervisor.
 * It never looks at CPUID leaves 0x4000xxxx or the synthetic MSRs (nor
 * at any MSR) and takes no interrupt: it checks what the root handed
 * over, runs the workload, talks to the devices a PC would have
 * (childboot.h: a 16550 at COM1 and the worker's ID register, both
 * emulated by the root's worker process, and a port with nothing behind
 * it) and reports through the mailbox (runtime.c). */
#include "child.h"

#define UART_THR 0
#define UART_LCR 3
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_LCR_8N1 0x03
#define UART_POLLS 1000		/* LSR reads per byte before giving up */

static const char child_line[] = "hello from the unenlightened child over COM1\n";

/* Polled transmit, as a boot loader writes to a 16550: wait for THRE,
 * then the byte.  Returns the bytes sent. */
static unsigned serial_write(const char *s, unsigned len)
{
	unsigned sent = 0;

	outb(CHILD_COM1_PORT + UART_LCR, UART_LCR_8N1);
	for (; sent < len; sent++) {
		unsigned polls = 0;

		while (!(inb(CHILD_COM1_PORT + UART_LSR) & UART_LSR_THRE))
			if (++polls == UART_POLLS)
				return sent;
		outb(CHILD_COM1_PORT + UART_THR, (uint8_t)s[sent]);
	}
	return sent;
}

static void devices(void)
{
	unsigned len = sizeof(child_line) - 1, sent = serial_write(child_line, len);
	uint32_t id = inl(CHILD_VMWP_ID_PORT);
	uint8_t scratch, nodev;

	child_check(sent == len, "COM1: %u of %u bytes sent (LSR said the transmitter was empty)", sent, len);
	/* The scratch register keeps what is written (16550). */
	outb(CHILD_COM1_PORT + 7, 0x5a);
	scratch = inb(CHILD_COM1_PORT + 7);
	child_check(scratch == 0x5a, "COM1 scratch register reads 0x%x (want 0x5a)", scratch);
	child_check((id >> 16) == (CHILD_VMWP_ID(0) >> 16), "ID port 0x%x reads 0x%08x (want 0x5657xxxx)",
		    CHILD_VMWP_ID_PORT, id);
	nodev = inb(CHILD_NODEV_PORT);
	child_check(nodev == 0xff, "port 0x%x, no device: reads 0x%x (want 0xff)", CHILD_NODEV_PORT, nodev);
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_UNENLIGHTENED);
	child_workload(child_iterations());
	devices();
	child_finish();
}
