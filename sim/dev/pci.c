/* PCI configuration mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2): CONFIG_ADDRESS at 0xCF8 (32-bit only) selects bus, device,
 * function and dword register when bit 31 is set; CONFIG_DATA at
 * 0xCFC-0xCFF reaches bytes (port - 0xCFC) onward of that dword.
 *
 * Bus 0 holds the host bridge at 00:00.0, with the IDs of the i440FX PMC
 * (82441FX), and the functions devices register (pci_register): the bus
 * keeps each function's configuration space as bytes and a mask of the
 * writable bits, so a BAR's size is its mask (software writes all ones
 * and reads back the size, PCI 3.0 6.2.5.1) and read-only registers need
 * no code.  A device learns of a write through its `written` callback.
 * Everything else reads all ones, which is how software sees an empty
 * slot (the master abort of a configuration read).
 *
 * MSI (PCI 3.0 6.8.1) is common code too: a function with the capability
 * signals through pci_msi_notify, and the bus hands the message (a
 * dword memory write) to its sink, which the machine connects to the APIC
 * bus.
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
#define PCI_SLOTS 32
#define PCI_FUNCS 8

#define PCI_COMMAND_PARITY 0x0040	/* parity error response */
#define PCI_COMMAND_SERR 0x0100		/* SERR# enable */
#define PCI_STATUS_FAST_B2B 0x0080
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200

#define PCI_HOST_BRIDGE_REVISION 0x02
#define PCI_CLASS_BRIDGE_HOST 0x060000	/* base class 06h, sub-class 00h */

struct pci {
	uint32_t addr;		/* CONFIG_ADDRESS as last written */
	struct pci_function host;
	struct pci_function *fn[PCI_SLOTS * PCI_FUNCS];	/* bus 0, by devfn */
	pci_msi_fn *msi;
	void *msi_opaque;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

uint16_t pci_cfg16(const struct pci_function *f, unsigned reg)
{
	return (uint16_t)(f->cfg[reg & 0xFF] | f->cfg[(reg + 1) & 0xFF] << 8);
}

uint32_t pci_cfg32(const struct pci_function *f, unsigned reg)
{
	return pci_cfg16(f, reg) | (uint32_t)pci_cfg16(f, reg + 2) << 16;
}

void pci_config_init(struct pci_function *f, uint16_t vendor, uint16_t device, uint8_t revision,
		     uint32_t class_code)
{
	memset(f->cfg, 0, sizeof(f->cfg));
	memset(f->wmask, 0, sizeof(f->wmask));
	put16(f->cfg + PCI_VENDOR_ID, vendor);
	put16(f->cfg + PCI_DEVICE_ID, device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	put16(f->cfg + PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	f->cfg[PCI_HEADER_TYPE] = 0x00;	/* type 0, single function */
	f->msi_cap = 0;
}

void pci_bar_mem32(struct pci_function *f, unsigned bar, uint32_t size, uint32_t base)
{
	unsigned reg = PCI_BAR0 + 4 * bar;

	/* Bits 3:0 say memory space, 32-bit, not prefetchable (all 0) and
	 * are read-only; the address bits below the size read 0. */
	put32(f->cfg + reg, base & ~(size - 1));
	put32(f->wmask + reg, ~(size - 1) & ~0xFu);
}

uint64_t pci_bar_decoded(const struct pci_function *f, unsigned bar)
{
	if (!(pci_cfg16(f, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		return PCI_BAR_NONE;
	return pci_cfg32(f, PCI_BAR0 + 4 * bar) & ~0xFu;
}

static void pci_host_bridge_init(struct pci_function *f)
{
	memset(f, 0, sizeof(*f));
	pci_config_init(f, PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE, PCI_HOST_BRIDGE_REVISION,
			PCI_CLASS_BRIDGE_HOST);
	/* A host bridge decodes memory and masters the bus from reset. */
	put16(f->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put16(f->cfg + PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_B2B);
	/* Only the command bits a host bridge implements are writable
	 * (PCI 3.0 6.2.2); I/O space, special cycles, MWI, palette snoop,
	 * fast back-to-back and INTx disable are hardwired to 0. */
	put16(f->wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				      PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
}

/* ---- MSI (PCI 3.0 6.8.1, 6.8.3.4) ---- */

void pci_msi_init(struct pci_function *f, unsigned off)
{
	uint8_t *c = f->cfg + off, *w = f->wmask + off;

	/* Linked at the head of the capability list. */
	c[0] = PCI_CAP_ID_MSI;
	c[1] = f->cfg[PCI_CAP_PTR];
	f->cfg[PCI_CAP_PTR] = (uint8_t)off;
	put16(f->cfg + PCI_STATUS, pci_cfg16(f, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	/* One vector (multiple message capable 000), 64-bit address,
	 * per-vector masking.  Multiple message enable (6:4) may be written,
	 * but a function with one vector uses only the data as given. */
	put16(c + PCI_MSI_CTRL, PCI_MSI_CTRL_64BIT | PCI_MSI_CTRL_PVM);
	put16(w + PCI_MSI_CTRL, PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME);
	put32(w + PCI_MSI_ADDR_LO, ~3u);	/* DWORD aligned: bits 1:0 read 0 */
	put32(w + PCI_MSI_ADDR_HI, ~0u);
	put16(w + PCI_MSI_DATA, 0xFFFF);	/* bytes 2-3 of the dword are reserved */
	put32(w + PCI_MSI_MASK, 1);		/* one vector: one mask bit */
	/* Pending bits are read-only. */
	f->msi_cap = (uint8_t)off;
}

int pci_msi_enabled(const struct pci_function *f)
{
	return f->msi_cap && (pci_cfg16(f, f->msi_cap + PCI_MSI_CTRL) & PCI_MSI_CTRL_ENABLE);
}

/* Send the message now: a bus master writes Message Data (zero-extended
 * to a dword) to Message Address (PCI 3.0 6.8.3.3). */
static int msi_send(struct pci_function *f, uint64_t assert_ps)
{
	unsigned o = f->msi_cap;
	uint64_t addr = pci_cfg32(f, o + PCI_MSI_ADDR_LO) | (uint64_t)pci_cfg32(f, o + PCI_MSI_ADDR_HI) << 32;

	if (!f->bus || !f->bus->msi)
		return 0;
	f->bus->msi(f->bus->msi_opaque, addr, pci_cfg16(f, o + PCI_MSI_DATA), assert_ps, f->devfn);
	return 1;
}

int pci_msi_notify(struct pci_function *f, uint64_t assert_ps)
{
	unsigned o = f->msi_cap;

	if (!pci_msi_enabled(f))
		return 0;
	/* A masked vector is held in its pending bit and sent when unmasked
	 * (6.8.3.4). */
	if (f->cfg[o + PCI_MSI_MASK] & 1) {
		if (!(f->cfg[o + PCI_MSI_PENDING] & 1))
			f->msi_pending_ps = assert_ps;
		f->cfg[o + PCI_MSI_PENDING] |= 1;
		return 0;
	}
	/* An MSI is a memory write: none without bus mastering. */
	if (!(pci_cfg16(f, PCI_COMMAND) & PCI_COMMAND_MASTER))
		return 0;
	return msi_send(f, assert_ps);
}

/* After a configuration write: a pending message whose vector is now
 * unmasked (with MSI enabled and bus mastering on) goes out, timed from
 * the event that made it pending. */
static void msi_after_write(struct pci_function *f)
{
	unsigned o = f->msi_cap;

	if (!o || !(f->cfg[o + PCI_MSI_PENDING] & 1) || (f->cfg[o + PCI_MSI_MASK] & 1) || !pci_msi_enabled(f) ||
	    !(pci_cfg16(f, PCI_COMMAND) & PCI_COMMAND_MASTER))
		return;
	f->cfg[o + PCI_MSI_PENDING] &= (uint8_t)~1u;
	msi_send(f, f->msi_pending_ps);
}

/* ---- configuration mechanism #1 ---- */

/* The function CONFIG_ADDRESS selects, or NULL if none answers. */
static struct pci_function *pci_selected(struct pci *p)
{
	unsigned bus = (p->addr >> 16) & 0xFF;
	unsigned devfn = (p->addr >> 8) & 0xFF;

	if (!(p->addr & PCI_ADDR_ENABLE) || bus != 0)
		return NULL;
	return p->fn[devfn];
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
	msi_after_write(f);
	if (f->written)
		f->written(f->opaque, reg, size);
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
	p->host.bus = p;
	p->fn[0] = &p->host;
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

int pci_register(struct pci *p, unsigned dev, unsigned fn, struct pci_function *f)
{
	unsigned devfn = dev << 3 | fn;

	if (dev >= PCI_SLOTS || fn >= PCI_FUNCS || !f)
		return -EINVAL;
	if (p->fn[devfn])
		return -EBUSY;
	f->bus = p;
	f->devfn = (uint8_t)devfn;
	p->fn[devfn] = f;
	return 0;
}

void pci_unregister(struct pci *p, struct pci_function *f)
{
	if (p && f && f->bus == p && p->fn[f->devfn] == f)
		p->fn[f->devfn] = NULL;
}

void pci_set_msi_sink(struct pci *p, pci_msi_fn *fn, void *opaque)
{
	p->msi = fn;
	p->msi_opaque = opaque;
}
