/*=========================================================================
 *
 *  Copyright itk-tag contributors
 *
 *  Licensed under the Apache License, Version 2.0 (the "License");
 *  you may not use this file except in compliance with the License.
 *  You may obtain a copy of the License at
 *
 *         https://www.apache.org/licenses/LICENSE-2.0.txt
 *
 *  Unless required by applicable law or agreed to in writing, software
 *  distributed under the License is distributed on an "AS IS" BASIS,
 *  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *  See the License for the specific language governing permissions and
 *  limitations under the License.
 *
 *=========================================================================*/
/** \file
 * The entry library of the wheel's plugin folder: the one shared library that
 * ITK hosts find on ITK_AUTOLOAD_PATH.
 *
 * A factory object crosses the host/plugin boundary as a C++ object, so it
 * must be built with the host's libstdc++ string ABI and in the host's ITK
 * namespace (3D Slicer's ITK is `slicer_itk`). Hosts of every kind can load
 * the same folder (SimpleITK: old ABI, `itk`; Debian's ITK: new ABI, `itk`;
 * Slicer 5.8: old ABI, `slicer_itk`; Slicer 5.12: new ABI, `slicer_itk`, with
 * SimpleITK in the same process). This library is plain C (no libstdc++ of its
 * own): itkLoad() reads the calling library's ELF file to tell which host is
 * calling, then hands over the factory of the matching build, loaded
 * privately from `itk-tag-builds/<abi>-<namespace>/`, a folder ITK does not scan.
 *
 * What a host is, is told from the calling library's dynamic symbols and
 * read-only data:
 *  - ABI: the std::string it imports from libstdc++ (`std::__cxx11::
 *    basic_string` = new, `_ZNSs...` = old). Defined symbols do not count:
 *    SimpleITK links parts of libstdc++ statically and defines both.
 *  - namespace: `slicer_itk` when a dynamic symbol names it, else `itk`.
 *  - ITK version: the "itk version X.Y.Z" string (ITK_SOURCE_VERSION).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ITK_TAG_EXPORT __attribute__((visibility("default")))

enum
{
  ABI_UNKNOWN = 0,
  ABI_NEW = 1,
  ABI_OLD = 2
};

/** What itk-tag knows about an ITK host library. */
typedef struct
{
  int  Abi;
  int  SlicerNamespace;
  char Version[48]; /* "itk version X.Y.Z", or "" when none was found */
} HostLibrary;

static const char VersionPrefix[] = "itk version ";

static int
InFile(uint64_t offset, uint64_t size, uint64_t fileSize)
{
  return offset <= fileSize && size <= fileSize - offset;
}

static int
HasPrefix(const char * name, const char * prefix)
{
  return strncmp(name, prefix, strlen(prefix)) == 0;
}

/** Reads the ABI and namespace from the dynamic symbol table. */
static void
ScanSymbols(const unsigned char * file, uint64_t fileSize, const Elf64_Ehdr * header, HostLibrary * host)
{
  if (header->e_shentsize != sizeof(Elf64_Shdr) ||
      !InFile(header->e_shoff, (uint64_t)header->e_shnum * sizeof(Elf64_Shdr), fileSize))
  {
    return;
  }
  const Elf64_Shdr * sections = (const Elf64_Shdr *)(file + header->e_shoff);
  int                importsNew = 0;
  int                importsOld = 0;
  for (unsigned s = 0; s < header->e_shnum; ++s)
  {
    if (sections[s].sh_type != SHT_DYNSYM || sections[s].sh_link >= header->e_shnum)
    {
      continue;
    }
    const Elf64_Shdr * symbols = &sections[s];
    const Elf64_Shdr * strings = &sections[symbols->sh_link];
    if (!InFile(symbols->sh_offset, symbols->sh_size, fileSize) ||
        !InFile(strings->sh_offset, strings->sh_size, fileSize) || strings->sh_size == 0 ||
        file[strings->sh_offset + strings->sh_size - 1] != '\0')
    {
      continue;
    }
    const Elf64_Sym * symbol = (const Elf64_Sym *)(file + symbols->sh_offset);
    const uint64_t    count = symbols->sh_size / sizeof(Elf64_Sym);
    const char *      names = (const char *)(file + strings->sh_offset);
    for (uint64_t i = 0; i < count; ++i)
    {
      if (symbol[i].st_name >= strings->sh_size)
      {
        continue;
      }
      const char * name = names + symbol[i].st_name;
      if (symbol[i].st_shndx == SHN_UNDEF)
      {
        importsNew = importsNew || strstr(name, "St7__cxx11") != NULL;
        importsOld = importsOld || HasPrefix(name, "_ZNSs") || HasPrefix(name, "_ZNKSs");
      }
      host->SlicerNamespace = host->SlicerNamespace || strstr(name, "10slicer_itk") != NULL;
    }
  }
  host->Abi = importsNew ? ABI_NEW : (importsOld ? ABI_OLD : ABI_UNKNOWN);
}

/** Finds "itk version <digit>..." in file[begin, begin + size). */
static int
ScanVersion(const unsigned char * file, uint64_t begin, uint64_t size, HostLibrary * host)
{
  const char * start = (const char *)file + begin;
  const char * end = start + size;
  const size_t prefixLength = sizeof(VersionPrefix) - 1;
  for (const char * hit = start; hit < end;)
  {
    hit = memmem(hit, (size_t)(end - hit), VersionPrefix, prefixLength);
    if (hit == NULL)
    {
      return 0;
    }
    const size_t length = strnlen(hit, (size_t)(end - hit));
    if (length > prefixLength && length < sizeof(host->Version) && hit[prefixLength] >= '0' &&
        hit[prefixLength] <= '9')
    {
      memcpy(host->Version, hit, length);
      host->Version[length] = '\0';
      return 1;
    }
    hit += prefixLength;
  }
  return 0;
}

/** The version string is read-only data: search the read-only, non-executable
 * segments first, except the one at file offset 0 (ELF header, symbol and
 * relocation tables); the others only if it is not there. SimpleITK's library
 * is 270 MB; its .rodata starts 7 MB in. */
static void
FindVersion(const unsigned char * file, uint64_t fileSize, const Elf64_Ehdr * header, HostLibrary * host)
{
  if (header->e_phentsize != sizeof(Elf64_Phdr) ||
      !InFile(header->e_phoff, (uint64_t)header->e_phnum * sizeof(Elf64_Phdr), fileSize))
  {
    return;
  }
  const Elf64_Phdr * segments = (const Elf64_Phdr *)(file + header->e_phoff);
  for (int pass = 0; pass < 2; ++pass)
  {
    for (unsigned i = 0; i < header->e_phnum; ++i)
    {
      const Elf64_Phdr * segment = &segments[i];
      if (segment->p_type != PT_LOAD || (segment->p_flags & PF_R) == 0 || (segment->p_flags & PF_W) != 0 ||
          !InFile(segment->p_offset, segment->p_filesz, fileSize))
      {
        continue;
      }
      const int likely = (segment->p_flags & PF_X) == 0 && segment->p_offset != 0;
      if (likely == (pass == 0) && ScanVersion(file, segment->p_offset, segment->p_filesz, host))
      {
        return;
      }
    }
  }
}

/** Describes the ELF shared library or program at `path`; 0 on success. */
static int
DescribeFile(const char * path, HostLibrary * host)
{
  memset(host, 0, sizeof(*host));
  const int descriptor = open(path, O_RDONLY | O_CLOEXEC);
  if (descriptor < 0)
  {
    return -1;
  }
  struct stat status;
  void *      mapped = MAP_FAILED;
  if (fstat(descriptor, &status) == 0 && S_ISREG(status.st_mode) && status.st_size >= (off_t)sizeof(Elf64_Ehdr))
  {
    mapped = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_PRIVATE, descriptor, 0);
  }
  close(descriptor);
  if (mapped == MAP_FAILED)
  {
    return -1;
  }
  const unsigned char * file = mapped;
  const uint64_t        fileSize = (uint64_t)status.st_size;
  const Elf64_Ehdr *    header = mapped;
  int                   result = -1;
  if (memcmp(header->e_ident, ELFMAG, SELFMAG) == 0 && header->e_ident[EI_CLASS] == ELFCLASS64 &&
      header->e_ident[EI_DATA] == ELFDATA2LSB)
  {
    ScanSymbols(file, fileSize, header, host);
    FindVersion(file, fileSize, header, host);
    result = 0;
  }
  munmap(mapped, (size_t)status.st_size);
  return result;
}

static const char *
AbiName(int abi)
{
  return abi == ABI_OLD ? "old" : (abi == ABI_NEW ? "new" : "unknown");
}

/** Python's view (itk_tag.plugins): the same facts as itkLoad sees them, as
 * "abi namespace version" (version may be empty). 0 on success. */
ITK_TAG_EXPORT int
itk_tag_describe_library(const char * path, char * text, size_t textSize)
{
  HostLibrary host;
  if (DescribeFile(path, &host) != 0)
  {
    return -1;
  }
  snprintf(text, textSize, "%s %s %s", AbiName(host.Abi), host.SlicerNamespace ? "slicer_itk" : "itk",
           host.Version);
  return 0;
}

/** Served: ITK 5.2 to 5.4, whose classes the builds (private ITK 5.2.1, with
 * the 5.4 MetaDataObjectBase::Equal back-ported) match; see docs/hosts.md. */
static int
IsServed(const char * version, int * echo)
{
  int major = 0;
  int minor = 0;
  *echo = 0;
  if (sscanf(version, "itk version %d.%d", &major, &minor) != 2)
  {
    return 0;
  }
  /* ITK warns ("possible incompatible factory load") when a factory's version
   * differs from its own: the host's version is echoed only for the hosts the
   * tests run (5.4.x: SimpleITK 2.5, ITK Python 5.4; 5.2.1 is the builds' own). */
  *echo = major == 5 && minor == 4;
  return major == 5 && minor >= 2 && minor <= 4;
}

/** Python's view of the same rule (itk-tag slicer status, doctor). */
ITK_TAG_EXPORT int
itk_tag_serves(const char * version)
{
  int echo = 0;
  return IsServed(version, &echo);
}

typedef void * (*CreateFactoryFunction)(const char * reportedVersion, int inert);

/** This library's folder, found once when it is loaded. */
static char Folder[4000];

__attribute__((constructor)) static void
FindFolder(void)
{
  Dl_info self;
  if (dladdr((void *)&FindFolder, &self) != 0 && self.dli_fname != NULL)
  {
    const char * slash = strrchr(self.dli_fname, '/');
    snprintf(Folder, sizeof(Folder), "%.*s", slash == NULL ? 1 : (int)(slash - self.dli_fname),
             slash == NULL ? "." : self.dli_fname);
  }
}

static int
BuildPath(char * path, size_t size, const char * abi, const char * nameSpace)
{
  return snprintf(path, size, "%s/itk-tag-builds/%s-%s/libIOTagImageIO.so", Folder, abi, nameSpace) < (int)size;
}

/** Loads itk-tag-builds/<abi>-<namespace>/libIOTagImageIO.so beside this library. */
static CreateFactoryFunction
LoadBuild(const char * abi, const char * nameSpace)
{
  char path[4096];
  if (!BuildPath(path, sizeof(path), abi, nameSpace))
  {
    return NULL;
  }
  /* RTLD_LOCAL: the build's private ITK must never bind to, or be bound by,
   * the host's. It is never closed: its factory outlives this library when a
   * host unloads its plugin folder. */
  void * build = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (build == NULL)
  {
    fprintf(stderr, "itk-tag: cannot load %s: %s (reinstall itk-tag)\n", path, dlerror());
    return NULL;
  }
  return (CreateFactoryFunction)dlsym(build, "itk_tag_create_factory");
}

struct CallerSearch
{
  const void * Address;
  char         Path[4096];
};

static int
FindCaller(struct dl_phdr_info * info, size_t size, void * data)
{
  (void)size;
  struct CallerSearch * search = data;
  const ElfW(Addr)      address = (ElfW(Addr))search->Address;
  for (int i = 0; i < info->dlpi_phnum; ++i)
  {
    const ElfW(Phdr) * segment = &info->dlpi_phdr[i];
    const ElfW(Addr) start = info->dlpi_addr + segment->p_vaddr;
    if (segment->p_type == PT_LOAD && address >= start && address < start + segment->p_memsz)
    {
      if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0')
      {
        snprintf(search->Path, sizeof(search->Path), "%s", info->dlpi_name);
      }
      else
      {
        /* The program itself has no name in the link map. */
        const ssize_t length = readlink("/proc/self/exe", search->Path, sizeof(search->Path) - 1);
        search->Path[length > 0 ? length : 0] = '\0';
      }
      return 1;
    }
  }
  return 0;
}

static pthread_mutex_t LoadLock = PTHREAD_MUTEX_INITIALIZER;

static void *
LoadFactoryFor(const void * caller)
{
  struct CallerSearch search = { caller, "" };
  HostLibrary         host;
  memset(&host, 0, sizeof(host));
  if (dl_iterate_phdr(FindCaller, &search) == 0 || DescribeFile(search.Path, &host) != 0)
  {
    snprintf(search.Path, sizeof(search.Path), "%s", "(unknown library)");
  }
  if (host.Abi == ABI_UNKNOWN)
  {
    /* A C++ library that imports no std::string at all is rare (a host linked
     * with -static-libstdc++); GCC's default since 5.1 is the new ABI. */
    fprintf(stderr,
            "itk-tag: cannot tell the libstdc++ ABI of %s, which loads the itk-tag plugin; assuming the "
            "new (C++11) one\n",
            search.Path);
    host.Abi = ABI_NEW;
  }
  int       echo = 0;
  const int served = IsServed(host.Version, &echo);
  if (!served)
  {
    fprintf(stderr,
            "itk-tag: this program's ITK (%s, in %s) is not one the itk-tag plugin serves (ITK 5.2 to 5.4), so "
            "it will not read .tag files; convert them with the itk-tag command, or build itk-tag's IOTag "
            "module against this ITK\n",
            host.Version[0] != '\0' ? host.Version : "version unknown", search.Path);
  }
  const char *          abi = AbiName(host.Abi);
  CreateFactoryFunction create = LoadBuild(abi, host.SlicerNamespace ? "slicer_itk" : "itk");
  if (create == NULL && host.SlicerNamespace)
  {
    /* Same layout, other class names: the host will refuse the TagImageIO
     * ("did not return an ImageIOBase") but survive. */
    create = LoadBuild(abi, "itk");
  }
  /* An unserved host gets an inert factory (no overrides: it never makes an
   * object), which ITK 5 and 6 register and later release like any other. */
  return create == NULL ? NULL : create(echo ? host.Version : NULL, !served);
}

static void *
ItkLoad(void)
{
  const void *    caller = __builtin_return_address(0);
  struct timespec start;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_mutex_lock(&LoadLock);
  void * factory = LoadFactoryFor(caller);
  pthread_mutex_unlock(&LoadLock);
  clock_gettime(CLOCK_MONOTONIC, &end);
  if (getenv("ITK_TAG_TRACE") != NULL)
  {
    /* What the entry costs a host (bench/run.py reads this line). */
    fprintf(stderr, "itk-tag: itkLoad took %.3f ms\n",
            (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6);
  }
  return factory;
}

typedef void * (*LoadFunction)(void);

/** Resolves itkLoad when a host looks it up (dlsym), before calling it.
 * ITK calls whatever itkLoad() returns without a null check, so an install
 * without its builds (the folder copied alone, a build deleted) must not offer
 * itkLoad at all: ITK then skips this library. The new and old ABI builds of
 * namespace `itk` are required; the `slicer_itk` ones fall back to them. */
static LoadFunction
ResolveItkLoad(void)
{
  char path[4096];
  for (int i = 0; i < 2; ++i)
  {
    const char * abi = i == 0 ? "new" : "old";
    if (!BuildPath(path, sizeof(path), abi, "itk") || access(path, R_OK) != 0)
    {
      fprintf(stderr, "itk-tag: the plugin in %s is incomplete (%s is missing), so it is not loaded; "
              "reinstall itk-tag\n", Folder, path);
      return NULL;
    }
  }
  return ItkLoad;
}

/** What ITK's ObjectFactoryBase::LoadLibrariesInPath calls (a GNU indirect
 * function: see ResolveItkLoad). */
ITK_TAG_EXPORT void *
itkLoad(void) __attribute__((ifunc("ResolveItkLoad")));
