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
 * The factory a plugin hands to an ITK host.
 *
 * Built against a host's own ITK (a CMake install), this library is the
 * plugin: it exports itkLoad(), which ObjectFactoryBase::LoadLibrariesInPath
 * looks up in every shared library of each ITK_AUTOLOAD_PATH folder.
 *
 * Built self-contained for the wheel (ITK_TAG_SELF_CONTAINED_PLUGIN), it is
 * one build of several (libstdc++ ABI x ITK namespace), kept out of ITK's
 * sight; the wheel's C entry library (itkTagPluginEntry.c) picks the build
 * that matches the calling host and calls itk_tag_create_factory().
 */
#include "itkTagImageIOFactory.h"
#include "itkVersion.h"

#include <string>

namespace
{
/** A factory of this build, as a host sees it. */
class TagImageIOPluginFactory : public itk::TagImageIOFactory
{
public:
  using Self = TagImageIOPluginFactory;
  using Pointer = itk::SmartPointer<Self>;
  itkFactorylessNewMacro(Self);

  /** The host's version, for hosts whose ITK differs from this build's private
   * (ABI-compatible, see ABI-NOTES) copy and that the tests run, so that ITK's
   * "possible incompatible factory load" check stays quiet for them only. */
  const char *
  GetITKSourceVersion() const override
  {
    return m_ReportedVersion.empty() ? Superclass::GetITKSourceVersion() : m_ReportedVersion.c_str();
  }

  std::string m_ReportedVersion;

private:
  using Superclass = itk::TagImageIOFactory;
};

/** Handed to hosts the plugin does not serve: it overrides nothing, so the
 * host registers it, asks it for nothing and releases it; this relies only on
 * the layout of ObjectFactoryBase, the same from ITK 5.0 to 6. */
class InertFactory : public itk::ObjectFactoryBase
{
public:
  using Self = InertFactory;
  using Pointer = itk::SmartPointer<Self>;
  itkFactorylessNewMacro(Self);

  const char *
  GetITKSourceVersion() const override
  {
    return ITK_SOURCE_VERSION;
  }

  const char *
  GetDescription() const override
  {
    return "itk-tag plugin, inactive: this program's ITK is not one it serves";
  }
};
} // namespace

#if defined(ITK_TAG_SELF_CONTAINED_PLUGIN)
extern "C" ITK_ABI_EXPORT itk::ObjectFactoryBase *
                          itk_tag_create_factory(const char * reportedVersion, int inert);

itk::ObjectFactoryBase *
itk_tag_create_factory(const char * reportedVersion, int inert)
{
  // The host registers a reference of its own and releases it when it
  // unregisters the factory. These live as long as the library: a reference
  // handed over with the pointer was never released (a leak that
  // LeakSanitizer reports in every host), and none at all would free the
  // factory on return. The first caller's version is kept.
  static const InertFactory::Pointer inertFactory = InertFactory::New();
  static const TagImageIOPluginFactory::Pointer factory = [reportedVersion] {
    auto made = TagImageIOPluginFactory::New();
    made->m_ReportedVersion = reportedVersion != nullptr ? reportedVersion : "";
    return made;
  }();
  return inert != 0 ? static_cast<itk::ObjectFactoryBase *>(inertFactory.GetPointer()) : factory.GetPointer();
}
#else
extern "C" ITK_ABI_EXPORT itk::ObjectFactoryBase *
                          itkLoad();

itk::ObjectFactoryBase *
itkLoad()
{
  static const TagImageIOPluginFactory::Pointer factory = TagImageIOPluginFactory::New();
  return factory.GetPointer();
}
#endif
