/* PCI configuration mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2): CONFIG_ADDRESS at 0xCF8 (32-bit only) selects bus, device,
 * function and dword register when bit 31 is set; CONFIG_DATA at
 * 0xCFC-0xCFF reaches bytes (port - 0xCFC) onward of that dword.
 *
 * The only function present is the host bridge at 00:00.0, with the IDs
 * of the i440FX PMC (82441FX).  Everything else reads all ones, which is
 * how software sees an empty slot (the master abort of a configuration
 * read).
 *
 * Non-dword accesses to 0xCF8-0xCFB are ignored (writes dropped, reads
 * all ones).  On real chipsets a byte access to 0xCF9 is the reset
 * control register; this machine has none. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"

#define PCI_NPORTS 8	/* 0xCF8-0xCFF */
#define PCI_ADDR_ENABLE 0x80000000u
/* Bits 30:24 are reserved and bits 1:0 read as 0 (PCI 3.0 3.2.2.3.2). */
#define PCI_ADDR_MASK 0x80FFFFFCu

/* Type 0 configuration header offsets (PCI 3.0 6.1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0A
#define PCI_HEADER_TYPE 0x0E

#define PCI_COMMAND_MEMORY 0x0002	/* memory space enable */
#define PCI_COMMAND_MASTER 0x0004	/* bus master enable */
#define PCI_COMMAND_PARITY 0x0040	/* parity error response */
#define PCI_COMMAND_SERR 0x0100		/* SERR# enable */
#define PCI_STATUS_FAST_B2B 0x0080
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200

#define PCI_HOST_BRIDGE_REVISION 0x02
#define PCI_CLASS_BRIDGE_HOST 0x0600	/* base class 06h, sub-class 00h */

struct pci_function {
	uint8_t cfg[256];
	uint8_t wmask[256];	/* 1 bits are writable */
};

struct pci {
	uint32_t addr;		/* CONFIG_ADDRESS as last written */
	struct pci_function host;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void pci_host_bridge_init(struct pci_function *f)
{
	memset(f, 0, sizeof(*f));
	put16(f->cfg + PCI_VENDOR_ID, PCI_HOST_BRIDGE_VENDOR);
	put16(f->cfg + PCI_DEVICE_ID, PCI_HOST_BRIDGE_DEVICE);
	/* A host bridge decodes memory and masters the bus from reset. */
	put16(f->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put16(f->cfg + PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_B2B);
	f->cfg[PCI_REVISION_ID] = PCI_HOST_BRIDGE_REVISION;
	f->cfg[PCI_CLASS_PROG] = 0x00;
	put16(f->cfg + PCI_CLASS_DEVICE, PCI_CLASS_BRIDGE_HOST);
	f->cfg[PCI_HEADER_TYPE] = 0x00;	/* type 0, single function */
	/* Only the command bits a host bridge implements are writable
	 * (PCI 3.0 6.2.2); I/O space, special cycles, MWI, palette snoop,
	 * fast back-to-back and INTx disable are hardwired to 0. */
	put16(f->wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				      PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
}

/* The function CONFIG_ADDRESS selects, or NULL if none answers. */
static struct pci_function *pci_selected(struct pci *p)
{
	unsigned bus = (p->addr >> 16) & 0xFF;
	unsigned dev = (p->addr >> 11) & 0x1F;
	unsigned fn = (p->addr >> 8) & 0x07;

	if (!(p->addr & PCI_ADDR_ENABLE))
		return NULL;
	if (bus == 0 && dev == 0 && fn == 0)
		return &p->host;
	return NULL;
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t pci_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci *p = opaque;
	struct pci_function *f;
	unsigned reg;
	uint64_t v = 0;

	if (offset < 4)
		return offset == 0 && size == 4 ? p->addr : all_ones(size);
	/* offset 4-7: CONFIG_DATA; the access must stay within the dword. */
	if (offset - 4 + size > 4)
		return all_ones(size);
	f = pci_selected(p);
	if (!f)
		return all_ones(size);
	reg = (p->addr & 0xFC) + (unsigned)(offset - 4);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)f->cfg[reg + i] << (8 * i);
	return v;
}

static void pci_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pci *p = opaque;
	struct pci_function *f;
	unsigned reg;

	if (offset < 4) {
		if (offset == 0 && size == 4)
			p->addr = (uint32_t)value & PCI_ADDR_MASK;
		return;
	}
	if (offset - 4 + size > 4)
		return;
	f = pci_selected(p);
	if (!f)
		return;
	reg = (p->addr & 0xFC) + (unsigned)(offset - 4);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		uint8_t m = f->wmask[reg + i];

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (b & m));
	}
}

struct pci *pci_new(struct memmap *m)
{
	struct pci *p = calloc(1, sizeof(*p));
	struct memmap_ports ports = {
		.base = PCI_CONFIG_ADDRESS,
		.count = PCI_NPORTS,
		.read = pci_read,
		.write = pci_write,
		.name = "pci-conf1",
	};
	int ret;

	if (!p)
		return NULL;
	pci_host_bridge_init(&p->host);
	ports.opaque = p;
	ret = memmap_add_ports(m, &ports);
	if (ret < 0) {
		free(p);
		errno = -ret;
		return NULL;
	}
	return p;
}

void pci_free(struct pci *p)
{
	free(p);
}
