# Builds and installs libfdt (the flattened device tree library of dtc) on
# its own, without flex/bison/swig/python, mirroring dtc's own
# Makefile/libfdt/Makefile.libfdt names (libfdt-VERSION.so, soname
# libfdt.so.1, libfdt.a, fdt.h libfdt.h libfdt_env.h) and adding the
# libfdt.pc that dtc >= 1.7 installs.
#
#   make -f libfdt.mk SRC=<dtc source>/libfdt VERSION=1.6.1 PREFIX=/usr/local
#   make -f libfdt.mk SRC=... VERSION=... PREFIX=... DESTDIR=/stage install
SRC ?= libfdt
VERSION ?= 0
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=
CC ?= cc
AR ?= ar
CFLAGS ?= -O2 -g
INSTALL ?= install

OBJS = fdt.o fdt_ro.o fdt_wip.o fdt_sw.o fdt_rw.o fdt_strerror.o \
       fdt_empty_tree.o fdt_addresses.o fdt_overlay.o fdt_check.o
HEADERS = fdt.h libfdt.h libfdt_env.h
SONAME = libfdt.so.1
LIB = libfdt-$(VERSION).so

all: $(LIB) libfdt.a libfdt.pc

%.o: $(SRC)/%.c
	$(CC) -I$(SRC) $(CFLAGS) -fPIC -Wall -o $@ -c $<

$(LIB): $(OBJS)
	$(CC) $(LDFLAGS) -shared -fPIC -Wl,-soname,$(SONAME) -o $@ $(OBJS)

libfdt.a: $(OBJS)
	$(AR) rcs $@ $(OBJS)

libfdt.pc:
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: libfdt' 'Description: Flat Device Tree manipulation' 'Version: $(VERSION)' \
	  'Libs: -L$${libdir} -lfdt' 'Cflags: -I$${includedir}' > $@

install: all
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	$(INSTALL) -m 755 $(LIB) $(DESTDIR)$(LIBDIR)/$(LIB)
	ln -sf $(LIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libfdt.so
	$(INSTALL) -m 644 libfdt.a $(DESTDIR)$(LIBDIR)/libfdt.a
	$(INSTALL) -m 644 libfdt.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libfdt.pc
	cd $(SRC) && $(INSTALL) -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/

.PHONY: all install
