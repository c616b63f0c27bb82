/* ACPI tables for the simulated PC, laid out as ACPI 6.0 chapter 5.2
 * describes (section numbers below are ACPI 6.0's).
 *
 *   ACPI_RSDP_ADDR    RSDP -> RSDT (32-bit) and XSDT (64-bit)
 *   ACPI_TABLES_ADDR  RSDT, XSDT   -> FADT, MADT
 *                     FADT         -> FACS, DSDT
 *                     FACS (64-byte aligned), DSDT, MADT
 *
 * The whole image is built in a host buffer, checksummed, and copied into
 * RAM in one go, so a failure leaves guest memory untouched.  All tables
 * are little endian, as is every host this simulator builds on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ACPI tables are built with host-endian stores; port acpi.c first"
#endif

#define ACPI_OEM_ID "HVSIM "
#define ACPI_OEM_TABLE_ID "HVSIMPC "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "HVSM"
#define ACPI_CREATOR_REVISION 1

/* 5.2.5.3 Root System Description Pointer (RSDP) Structure */
struct acpi_rsdp {
	char signature[8];	/* "RSD PTR " */
	uint8_t checksum;	/* first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;	/* 2: ACPI 2.0 and later */
	uint32_t rsdt_address;
	uint32_t length;	/* of this structure, 36 */
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* whole structure */
	uint8_t reserved[3];
} __attribute__((packed));

/* 5.2.6 System Description Table Header */
struct acpi_header {
	char signature[4];
	uint32_t length;	/* whole table, header included */
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* 5.2.3.2 Generic Address Structure (GAS) */
struct acpi_gas {
	uint8_t space_id;	/* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;	/* 3: dword */
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_DWORD 3

/* 5.2.9 Fixed ACPI Description Table (FADT); 276 bytes from
 * FADT major version 6. */
struct acpi_fadt {
	struct acpi_header header;	/* "FACP" */
	uint32_t firmware_ctrl;		/* FACS, 32-bit; 0 when X_FIRMWARE_CTRL is used */
	uint32_t dsdt;
	uint8_t reserved0;		/* ACPI 1.0 INT_MODEL */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;		/* 0: ACPI mode is always on */
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* 5.2.9 Fixed ACPI Description Table Fixed Feature Flags */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4)	/* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5)	/* no fixed-feature sleep button */
#define FADT_F_TMR_VAL_EXT (1u << 8)	/* 32-bit PM timer */

/* 5.2.9.3 IA-PC Boot Architecture Flags */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)	/* ISA-decoded devices (the UART) */
#define FADT_BOOT_VGA_NOT_PRESENT (1u << 2)
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

/* 5.2.10 Firmware ACPI Control Structure (FACS), Table 5-38 */
struct acpi_facs {
	char signature[4];	/* "FACS" */
	uint32_t length;	/* 64 */
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;	/* 2 */
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));

/* 5.2.12 Multiple APIC Description Table (MADT) */
struct acpi_madt {
	struct acpi_header header;	/* "APIC" */
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

#define MADT_PCAT_COMPAT (1u << 0)	/* dual 8259s present too */

enum {
	MADT_LOCAL_APIC = 0,
	MADT_IO_APIC = 1,
	MADT_INT_SRC_OVERRIDE = 2,
	MADT_LOCAL_APIC_NMI = 4,
	MADT_LOCAL_X2APIC = 9,
	MADT_LOCAL_X2APIC_NMI = 10,
};

/* 5.2.12.2 Processor Local APIC Structure */
struct madt_local_apic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;		/* bit 0: enabled */
} __attribute__((packed));

#define MADT_LAPIC_ENABLED (1u << 0)

/* 5.2.12.3 I/O APIC Structure */
struct madt_io_apic {
	uint8_t type, length;
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

/* 5.2.12.5 Interrupt Source Override Structure */
struct madt_int_src_override {
	uint8_t type, length;
	uint8_t bus;		/* 0: ISA */
	uint8_t source;		/* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;		/* MPS INTI flags */
} __attribute__((packed));

/* MPS INTI flags (5.2.12.5): polarity bits 1:0, trigger mode bits 3:2. */
#define MPS_INTI_POLARITY_CONFORMS 0x0
#define MPS_INTI_POLARITY_HIGH 0x1
#define MPS_INTI_TRIGGER_EDGE (0x1 << 2)
#define MPS_INTI_TRIGGER_LEVEL (0x3 << 2)

/* 5.2.12.7 Local APIC NMI Structure */
struct madt_local_apic_nmi {
	uint8_t type, length;
	uint8_t processor_uid;	/* 0xFF: all processors */
	uint16_t flags;		/* MPS INTI flags */
	uint8_t lint;
} __attribute__((packed));

/* 5.2.12.12 Processor Local x2APIC Structure: for APIC IDs of 255 and
 * up, which do not fit the 8-bit structure above. */
struct madt_local_x2apic {
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t processor_uid;
} __attribute__((packed));

/* 5.2.12.13 Local x2APIC NMI Structure */
struct madt_local_x2apic_nmi {
	uint8_t type, length;
	uint16_t flags;
	uint32_t processor_uid;	/* 0xFFFFFFFF: all processors */
	uint8_t lint;
	uint8_t reserved[3];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header is 36 bytes");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT 6.0 is 276 bytes");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT fixed part is 44 bytes");
_Static_assert(sizeof(struct madt_local_apic) == 8, "type 0 is 8 bytes");
_Static_assert(sizeof(struct madt_io_apic) == 12, "type 1 is 12 bytes");
_Static_assert(sizeof(struct madt_int_src_override) == 10, "type 2 is 10 bytes");
_Static_assert(sizeof(struct madt_local_apic_nmi) == 6, "type 4 is 6 bytes");
_Static_assert(sizeof(struct madt_local_x2apic) == 16, "type 9 is 16 bytes");
_Static_assert(sizeof(struct madt_local_x2apic_nmi) == 12, "type 10 is 12 bytes");

#define ACPI_NTABLES 2		/* listed in RSDT/XSDT: FADT, MADT */
#define ACPI_LAPIC8_MAX 255	/* APIC IDs 0..254 use the 8-bit structure */
#define ACPI_DSDT_REVISION 2	/* 64-bit AML integers */

uint8_t acpi_checksum(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (uint64_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void acpi_header_init(struct acpi_header *h, const char sig[4], uint32_t length,
			     uint8_t revision)
{
	memcpy(h->signature, sig, 4);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Set the checksum of a finished table so that all its bytes sum to 0. */
static void acpi_header_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-acpi_checksum(h, h->length);
}

/* Where each table goes, as offsets from ACPI_TABLES_ADDR. */
struct acpi_layout {
	uint64_t rsdt, xsdt, fadt, facs, dsdt, madt, end;
	uint64_t madt_len;
	uint32_t nlapic8, nx2apic;
};

static uint64_t madt_length(const struct acpi_config *cfg, struct acpi_layout *l)
{
	uint64_t len = sizeof(struct acpi_madt);

	l->nlapic8 = cfg->ncpus < ACPI_LAPIC8_MAX ? cfg->ncpus : ACPI_LAPIC8_MAX;
	l->nx2apic = cfg->ncpus - l->nlapic8;
	len += (uint64_t)l->nlapic8 * sizeof(struct madt_local_apic);
	len += sizeof(struct madt_io_apic);
	len += 2 * sizeof(struct madt_int_src_override);
	len += sizeof(struct madt_local_apic_nmi);
	if (l->nx2apic)
		len += (uint64_t)l->nx2apic * sizeof(struct madt_local_x2apic) +
		       sizeof(struct madt_local_x2apic_nmi);
	return len;
}

static void acpi_plan(const struct acpi_config *cfg, struct acpi_layout *l)
{
	/* Offsets are relative to ACPI_TABLES_ADDR, which is 256-byte
	 * aligned, so aligning offsets aligns addresses.  FACS must be
	 * 64-byte aligned (5.2.10); the rest get 16. */
	l->rsdt = 0;
	l->xsdt = align_up(l->rsdt + sizeof(struct acpi_header) + 4 * ACPI_NTABLES, 16);
	l->fadt = align_up(l->xsdt + sizeof(struct acpi_header) + 8 * ACPI_NTABLES, 16);
	l->facs = align_up(l->fadt + sizeof(struct acpi_fadt), 64);
	l->dsdt = align_up(l->facs + sizeof(struct acpi_facs), 16);
	l->madt = align_up(l->dsdt + sizeof(struct acpi_header), 16);
	l->madt_len = madt_length(cfg, l);
	l->end = l->madt + l->madt_len;
}

static void build_rsdt_xsdt(uint8_t *img, const struct acpi_layout *l)
{
	const uint64_t tables[ACPI_NTABLES] = {
		ACPI_TABLES_ADDR + l->fadt,
		ACPI_TABLES_ADDR + l->madt,
	};
	struct acpi_header *rsdt = (struct acpi_header *)(img + l->rsdt);
	struct acpi_header *xsdt = (struct acpi_header *)(img + l->xsdt);

	/* 5.2.7 RSDT: 32-bit entries; 5.2.8 XSDT: 64-bit entries. */
	acpi_header_init(rsdt, "RSDT", sizeof(*rsdt) + 4 * ACPI_NTABLES, 1);
	acpi_header_init(xsdt, "XSDT", sizeof(*xsdt) + 8 * ACPI_NTABLES, 1);
	for (unsigned i = 0; i < ACPI_NTABLES; i++) {
		uint32_t a32 = (uint32_t)tables[i];

		memcpy((uint8_t *)(rsdt + 1) + 4 * i, &a32, 4);
		memcpy((uint8_t *)(xsdt + 1) + 8 * i, &tables[i], 8);
	}
	acpi_header_seal(rsdt);
	acpi_header_seal(xsdt);
}

static void build_fadt(uint8_t *img, const struct acpi_layout *l, const struct acpi_config *cfg)
{
	struct acpi_fadt *f = (struct acpi_fadt *)(img + l->fadt);

	acpi_header_init(&f->header, "FACP", sizeof(*f), 6);
	f->minor_version = 0;
	/* FIRMWARE_CTRL "must be zero" when X_FIRMWARE_CTRL is set (5.2.9,
	 * FIRMWARE_CTRL); DSDT and X_DSDT may both be given. */
	f->firmware_ctrl = 0;
	f->x_firmware_ctrl = ACPI_TABLES_ADDR + l->facs;
	f->dsdt = (uint32_t)(ACPI_TABLES_ADDR + l->dsdt);
	f->x_dsdt = ACPI_TABLES_ADDR + l->dsdt;
	f->preferred_pm_profile = 0;	/* unspecified */
	f->sci_int = cfg->sci_irq;
	f->pm_tmr_blk = cfg->pm_timer_port;
	f->pm_tmr_len = 4;
	f->x_pm_tmr_blk = (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 32,
		.bit_offset = 0,
		.access_size = ACPI_GAS_ACCESS_DWORD,
		.address = cfg->pm_timer_port,
	};
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
		   FADT_F_TMR_VAL_EXT;
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_VGA_NOT_PRESENT |
			    FADT_BOOT_CMOS_RTC_NOT_PRESENT;
	acpi_header_seal(&f->header);
}

static void build_facs(uint8_t *img, const struct acpi_layout *l)
{
	struct acpi_facs *facs = (struct acpi_facs *)(img + l->facs);

	/* No checksum: the FACS is read-write memory shared with OSPM. */
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
}

static void build_dsdt(uint8_t *img, const struct acpi_layout *l)
{
	struct acpi_header *d = (struct acpi_header *)(img + l->dsdt);

	/* 5.2.11.1: a definition block with an empty AML body is valid;
	 * this machine has nothing to describe in the namespace yet. */
	acpi_header_init(d, "DSDT", sizeof(*d), ACPI_DSDT_REVISION);
	acpi_header_seal(d);
}

static uint8_t *madt_put(uint8_t *p, const void *entry, size_t len)
{
	memcpy(p, entry, len);
	return p + len;
}

static void build_madt(uint8_t *img, const struct acpi_layout *l, const struct acpi_config *cfg)
{
	struct acpi_madt *madt = (struct acpi_madt *)(img + l->madt);
	uint8_t *p = (uint8_t *)(madt + 1);

	acpi_header_init(&madt->header, "APIC", (uint32_t)l->madt_len, 3);
	madt->lapic_address = cfg->lapic_addr;
	madt->flags = MADT_PCAT_COMPAT;

	/* 5.2.12.1: the boot processor's entry comes first; ours is id 0. */
	for (uint32_t i = 0; i < l->nlapic8; i++) {
		struct madt_local_apic e = {
			.type = MADT_LOCAL_APIC,
			.length = sizeof(e),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};
		p = madt_put(p, &e, sizeof(e));
	}
	for (uint32_t i = 0; i < l->nx2apic; i++) {
		struct madt_local_x2apic e = {
			.type = MADT_LOCAL_X2APIC,
			.length = sizeof(e),
			.x2apic_id = ACPI_LAPIC8_MAX + i,
			.flags = MADT_LAPIC_ENABLED,
			.processor_uid = ACPI_LAPIC8_MAX + i,
		};
		p = madt_put(p, &e, sizeof(e));
	}

	struct madt_io_apic io = {
		.type = MADT_IO_APIC,
		.length = sizeof(io),
		.io_apic_id = cfg->ioapic_id,
		.address = cfg->ioapic_addr,
		.gsi_base = 0,
	};
	p = madt_put(p, &io, sizeof(io));

	/* 5.2.12.5: the PIT's IRQ0 is on IO-APIC pin 2 on PCs (pin 0 is the
	 * 8259's INTR); the SCI is level-triggered, active high (5.2.9,
	 * SCI_INT). */
	struct madt_int_src_override irq0 = {
		.type = MADT_INT_SRC_OVERRIDE,
		.length = sizeof(irq0),
		.bus = 0,
		.source = 0,
		.gsi = 2,
		.flags = MPS_INTI_TRIGGER_EDGE | MPS_INTI_POLARITY_CONFORMS,
	};
	p = madt_put(p, &irq0, sizeof(irq0));
	struct madt_int_src_override sci = {
		.type = MADT_INT_SRC_OVERRIDE,
		.length = sizeof(sci),
		.bus = 0,
		.source = (uint8_t)cfg->sci_irq,
		.gsi = cfg->sci_irq,
		.flags = MPS_INTI_TRIGGER_LEVEL | MPS_INTI_POLARITY_HIGH,
	};
	p = madt_put(p, &sci, sizeof(sci));

	/* 5.2.12.7: LINT1 of every local APIC is the NMI input. */
	struct madt_local_apic_nmi nmi = {
		.type = MADT_LOCAL_APIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = 0xFF,
		.flags = 0,	/* conforms to the bus: edge, active high */
		.lint = 1,
	};
	p = madt_put(p, &nmi, sizeof(nmi));
	if (l->nx2apic) {
		struct madt_local_x2apic_nmi xnmi = {
			.type = MADT_LOCAL_X2APIC_NMI,
			.length = sizeof(xnmi),
			.flags = 0,
			.processor_uid = 0xFFFFFFFFu,
			.lint = 1,
		};
		p = madt_put(p, &xnmi, sizeof(xnmi));
	}
	acpi_header_seal(&madt->header);
}

int acpi_build(struct memmap *m, const struct acpi_config *cfg)
{
	struct acpi_layout l;
	struct acpi_rsdp rsdp;
	uint8_t *img;
	int ret;

	if (!m || !cfg || !cfg->ncpus)
		return -EINVAL;
	/* The SCI override names an ISA IRQ; 0 and 2 are the timer's. */
	if (cfg->sci_irq >= 16 || cfg->sci_irq == 0 || cfg->sci_irq == 2)
		return -EINVAL;
	acpi_plan(cfg, &l);
	if (l.madt_len > UINT32_MAX || l.end > ACPI_TABLES_END - ACPI_TABLES_ADDR)
		return -ENOSPC;

	img = calloc(1, l.end);
	if (!img)
		return -ENOMEM;
	build_rsdt_xsdt(img, &l);
	build_fadt(img, &l, cfg);
	build_facs(img, &l);
	build_dsdt(img, &l);
	build_madt(img, &l, cfg);

	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.rsdt_address = (uint32_t)(ACPI_TABLES_ADDR + l.rsdt);
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_address = ACPI_TABLES_ADDR + l.xsdt;
	/* 5.2.5.3: the checksum covers the first 20 bytes, the extended
	 * checksum the whole structure (checksum byte included). */
	rsdp.checksum = (uint8_t)-acpi_checksum(&rsdp, 20);
	rsdp.extended_checksum = (uint8_t)-acpi_checksum(&rsdp, sizeof(rsdp));

	/* Check both destinations before writing either. */
	if (!memmap_ram_ptr(m, ACPI_RSDP_ADDR, sizeof(rsdp)) ||
	    !memmap_ram_ptr(m, ACPI_TABLES_ADDR, l.end)) {
		ret = -EFAULT;
		goto out;
	}
	ret = memmap_write_phys(m, ACPI_TABLES_ADDR, img, l.end);
	if (!ret)
		ret = memmap_write_phys(m, ACPI_RSDP_ADDR, &rsdp, sizeof(rsdp));
out:
	free(img);
	return ret;
}
