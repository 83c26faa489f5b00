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
 * Entry point of the itk-tag plugin: a shared library that any ITK host
 * loads from a folder on ITK_AUTOLOAD_PATH (ObjectFactoryBase looks up the
 * C symbol itkLoad in every shared library there).
 */
#include "itkTagImageIOFactory.h"

#if defined(ITK_TAG_COMPATIBLE_HOST_VERSION_PREFIX) && defined(__linux__)
#include <link.h>
#include <cstring>
#include <string>
#endif

namespace
{
#if defined(ITK_TAG_COMPATIBLE_HOST_VERSION_PREFIX) && defined(__linux__)
/** Where ITK hosts keep ITK_SOURCE_VERSION ("itk version X.Y.Z"). */
struct HostSearch
{
  const void * Caller;
  std::string  Version;
};

/** Looks for "itk version <digit>..." in [begin, begin + size). */
void
SearchVersion(const char * begin, size_t size, HostSearch & search)
{
  static const char prefix[] = "itk version ";
  const char *      end = begin + size;
  for (const char * hit = begin; hit != nullptr && search.Version.empty();)
  {
    hit = static_cast<const char *>(memmem(hit, static_cast<size_t>(end - hit), prefix, sizeof(prefix) - 1));
    if (hit != nullptr)
    {
      const size_t length = strnlen(hit, static_cast<size_t>(end - hit));
      if (length < 40 && length > sizeof(prefix) - 1 && hit[sizeof(prefix) - 1] >= '0' &&
          hit[sizeof(prefix) - 1] <= '9')
      {
        search.Version.assign(hit, length);
      }
      hit += sizeof(prefix) - 1;
    }
  }
}

int
FindVersionInCaller(dl_phdr_info * info, size_t, void * data)
{
  auto *     search = static_cast<HostSearch *>(data);
  const auto caller = reinterpret_cast<ElfW(Addr)>(search->Caller);
  bool       isCaller = false;
  for (int i = 0; i < info->dlpi_phnum; ++i)
  {
    const ElfW(Phdr) & segment = info->dlpi_phdr[i];
    const ElfW(Addr) start = info->dlpi_addr + segment.p_vaddr;
    isCaller = isCaller || (segment.p_type == PT_LOAD && caller >= start && caller < start + segment.p_memsz);
  }
  if (!isCaller)
  {
    return 0;
  }
  // The string is read-only data: search the read-only, non-executable
  // segments first, except the one at file offset 0 (ELF header, symbol and
  // relocation tables); the code and that segment only if it is not there.
  // Scanning all of SimpleITK's 270 MB library costs ~60 ms at each import
  // and maps ~130 MB of it into the host's RSS; its .rodata is found after 7 MB.
  for (int pass = 0; pass < 2 && search->Version.empty(); ++pass)
  {
    for (int i = 0; i < info->dlpi_phnum && search->Version.empty(); ++i)
    {
      const ElfW(Phdr) & segment = info->dlpi_phdr[i];
      if (segment.p_type != PT_LOAD || (segment.p_flags & PF_R) == 0 || (segment.p_flags & PF_W) != 0)
      {
        continue;
      }
      const bool likely = (segment.p_flags & PF_X) == 0 && segment.p_offset != 0;
      if (likely != (pass == 0))
      {
        continue;
      }
      SearchVersion(reinterpret_cast<const char *>(info->dlpi_addr + segment.p_vaddr), segment.p_filesz, *search);
    }
  }
  return 1;
}

/** The factory loaded by a host whose ITK differs from the plugin's private
 * (ABI-compatible, see ABI-NOTES) copy reports the host's version, so that
 * ITK's "possible incompatible factory load" check stays quiet for hosts the
 * plugin is tested with, and still warns for any other. */
class TagImageIOPluginFactory : public itk::TagImageIOFactory
{
public:
  using Self = TagImageIOPluginFactory;
  using Pointer = itk::SmartPointer<Self>;
  itkFactorylessNewMacro(Self);

  const char *
  GetITKSourceVersion() const override
  {
    return m_HostVersion.empty() ? Superclass::GetITKSourceVersion() : m_HostVersion.c_str();
  }

  void
  SetHostVersion(const std::string & version)
  {
    if (version.rfind(ITK_TAG_COMPATIBLE_HOST_VERSION_PREFIX, 0) == 0)
    {
      m_HostVersion = version;
    }
  }

private:
  using Superclass = itk::TagImageIOFactory;
  std::string m_HostVersion;
};

TagImageIOPluginFactory::Pointer
MakePluginFactory(const void * caller)
{
  HostSearch search{ caller, std::string() };
  dl_iterate_phdr(FindVersionInCaller, &search);
  auto factory = TagImageIOPluginFactory::New();
  factory->SetHostVersion(search.Version);
  return factory;
}
#endif
} // namespace

extern "C" ITK_ABI_EXPORT itk::ObjectFactoryBase *
                          itkLoad();

itk::ObjectFactoryBase *
itkLoad()
{
  // The host registers a reference of its own and releases it when it
  // unregisters the factory. This one lives as long as the library: a
  // reference handed over with the pointer was never released (a leak that
  // LeakSanitizer reports in every host), and none at all would free the
  // factory on return. The first caller's ITK version is kept.
#if defined(ITK_TAG_COMPATIBLE_HOST_VERSION_PREFIX) && defined(__linux__)
  static const TagImageIOPluginFactory::Pointer factory = MakePluginFactory(__builtin_return_address(0));
#else
  static const itk::TagImageIOFactory::Pointer factory = itk::TagImageIOFactory::New();
#endif
  return factory.GetPointer();
}
