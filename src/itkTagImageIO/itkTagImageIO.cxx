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
#include "itkTagImageIO.h"

#include "itkByteSwapper.h"
#include "itkMetaDataObject.h"
#include "itksys/SystemTools.hxx"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <locale>
#include <random>
#include <set>
#include <sstream>

#ifdef _WIN32
#include <windows.h>
#endif
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace itk
{
namespace
{
using Vector3 = std::array<double, 3>;

/** Keywords the writer derives from the image; dictionary copies are ignored. */
const std::set<std::string> &
GeometryKeywords()
{
  static const std::set<std::string> keywords = { "x",       "y",       "z",       "type",   "org_x",   "org_y",
                                                  "org_z",   "inc_x",   "inc_y",   "epais",  "dir_h_x", "dir_h_y",
                                                  "dir_h_z", "dir_v_x", "dir_v_y", "dir_v_z" };
  return keywords;
}

/** Optional keywords in the order sliceOmatic writes them; others follow sorted. */
const std::vector<std::string> &
LeadingExtraKeywords()
{
  static const std::vector<std::string> keywords = { "uid", "chksum", "bin", "dim_x", "dim_y" };
  return keywords;
}

/** sliceOmatic writes 4 decimals. The classic locale keeps the '.' whatever
 * LC_NUMERIC the host application set. */
std::string
FormatReal(double value)
{
  std::ostringstream stream;
  stream.imbue(std::locale::classic());
  stream << std::fixed << std::setprecision(4) << value;
  const std::string text = stream.str();
  return text == "-0.0000" ? "0.0000" : text;
}

double
ParseRealOr(const std::string * text, double fallback)
{
  double value = 0.0;
  return text != nullptr && TagHeader::ParseNumber(*text, value) ? value : fallback;
}

/** "key:value" left-aligned in a field of key + width characters, as in files
 * written by sliceOmatic ("x:512    y:512    ...", "org_x:-207.0000  ...").
 * A value as wide as the field or wider still gets one space (as a printf
 * "%-*s " field would): without it, it would run into the next keyword. */
std::string
Field(const std::string & keyword, const std::string & value, size_t width)
{
  std::string  field = keyword + ":" + value;
  const size_t minimum = keyword.size() + 1 + width;
  field.append(field.size() < minimum ? minimum - field.size() : 1, ' ');
  return field;
}

bool
IsExtraKeyword(const std::string & keyword)
{
  return !keyword.empty() && GeometryKeywords().count(keyword) == 0 &&
         std::all_of(keyword.begin(),
                     keyword.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool
IsSingleToken(const std::string & value)
{
  return !value.empty() &&
         std::all_of(value.begin(), value.end(), [](char c) { return c > ' ' && c < 0x7f && c != ',' && c != '*'; });
}

Vector3
Unit(const Vector3 & v)
{
  const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  return { { v[0] / norm, v[1] / norm, v[2] / norm } };
}

Vector3
Cross(const Vector3 & a, const Vector3 & b)
{
  return { { a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0] } };
}

/** Asks Linux for transparent huge pages on the whole pages of a large buffer
 * that nothing has touched yet (ITK allocates image buffers uninitialised):
 * faulting it in 2 MiB at a time instead of 4 KiB halves the time of a large
 * read from the page cache. numpy does the same for its large arrays. A no-op
 * elsewhere, for small buffers, or when THP is off ("never"). */
void
AdviseHugePages(void * buffer, SizeValueType size)
{
#ifdef __linux__
  constexpr SizeValueType minimum = SizeValueType{ 4 } << 20;
  const auto              page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto              start = (reinterpret_cast<uintptr_t>(buffer) + page - 1) & ~(page - 1);
  const auto              end = (reinterpret_cast<uintptr_t>(buffer) + size) & ~(page - 1);
  if (end > start && end - start >= minimum)
  {
    madvise(reinterpret_cast<void *>(start), end - start, MADV_HUGEPAGE);
  }
#else
  (void)buffer;
  (void)size;
#endif
}

/** Atomically puts \a from in place of \a to (replacing it if it exists). */
bool
ReplaceFile(const std::string & from, const std::string & to)
{
#ifdef _WIN32
  return MoveFileExA(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0;
#else
  return std::rename(from.c_str(), to.c_str()) == 0;
#endif
}

std::string
TemporaryNameBeside(const std::string & fileName)
{
  std::random_device                 device;
  std::uniform_int_distribution<int> hexDigit(0, 15);
  std::string                        suffix = ".itk-tag-tmp-";
  for (int i = 0; i < 12; ++i)
  {
    suffix += "0123456789abcdef"[hexDigit(device)];
  }
  return fileName + suffix;
}
} // namespace

TagImageIO::TagImageIO()
{
  this->SetNumberOfDimensions(3);
  this->SetNumberOfComponents(1);
  this->SetPixelType(IOPixelEnum::SCALAR);
  this->SetComponentType(IOComponentEnum::UCHAR);
  m_ByteOrder = IOByteOrderEnum::LittleEndian;
  m_FileType = IOFileEnum::Binary;
  this->AddSupportedReadExtension(".tag");
  this->AddSupportedWriteExtension(".tag");
}

void
TagImageIO::PrintSelf(std::ostream & os, Indent indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "HeaderSize: " << m_Header.HeaderSize << std::endl;
  os << indent << "Keywords:";
  for (const auto & kv : m_Header.Keywords)
  {
    os << ' ' << kv.first << ':' << kv.second;
  }
  os << std::endl;
}

bool
TagImageIO::CanReadFile(const char * fileName)
{
  return fileName != nullptr && TagHeader::FileLooksLikeTagHeader(fileName);
}

void
TagImageIO::ReadImageInformation()
{
  m_Header = TagHeader::Read(m_FileName);

  this->SetNumberOfDimensions(3);
  for (unsigned int i = 0; i < 3; ++i)
  {
    this->SetDimensions(i, m_Header.Size[i]);
    this->SetOrigin(i, m_Header.Origin[i]);
    this->SetSpacing(i, m_Header.Spacing[i]);
    this->SetDirection(i, std::vector<double>(m_Header.Direction[i].begin(), m_Header.Direction[i].end()));
  }
  this->SetPixelType(IOPixelEnum::SCALAR);
  this->SetNumberOfComponents(1);
  this->SetComponentType(m_Header.ComponentType);
  this->SetByteOrder(IOByteOrderEnum::LittleEndian);

  MetaDataDictionary & dictionary = this->GetMetaDataDictionary();
  dictionary.Clear();
  for (const auto & kv : m_Header.Keywords)
  {
    EncapsulateMetaData<std::string>(dictionary, kv.first, kv.second);
  }
}

void
TagImageIO::Read(void * buffer)
{
  std::ifstream file(m_FileName.c_str(), std::ios::in | std::ios::binary);
  if (!file.is_open())
  {
    itkExceptionMacro("sliceOmatic .tag file \"" << m_FileName << "\": cannot be opened: " << std::strerror(errno));
  }
  if (m_IORegion.GetImageDimension() == 0 || m_IORegion.GetNumberOfPixels() == 0)
  {
    // A caller of the raw API (ReadImageInformation(), then Read(buffer),
    // without SetIORegion()) gets the whole image, as from ITK's
    // non-streaming readers, not a buffer left as it was.
    ImageIORegion whole(3);
    for (unsigned int i = 0; i < 3; ++i)
    {
      whole.SetSize(i, this->GetDimensions(i));
    }
    m_IORegion = whole;
  }
  AdviseHugePages(buffer, m_IORegion.GetNumberOfPixels() * this->GetPixelSize());
  try
  {
    this->StreamReadBufferAsBinary(file, buffer);
  }
  catch (const ExceptionObject &)
  {
    itkExceptionMacro("sliceOmatic .tag file \"" << m_FileName
                                                 << "\": the voxel data is shorter than the header announces");
  }
  if (this->GetComponentType() == IOComponentEnum::USHORT)
  {
    ByteSwapper<uint16_t>::SwapRangeFromSystemToLittleEndian(static_cast<uint16_t *>(buffer),
                                                             m_IORegion.GetNumberOfPixels());
  }
}

bool
TagImageIO::CanWriteFile(const char * fileName)
{
  if (fileName == nullptr)
  {
    return false;
  }
  const std::string extension = itksys::SystemTools::LowerCase(itksys::SystemTools::GetFilenameLastExtension(fileName));
  return extension == ".tag";
}

std::string
TagImageIO::MakeHeaderText() const
{
  const unsigned int dimensions = this->GetNumberOfDimensions();
  if (dimensions != 2 && dimensions != 3)
  {
    itkExceptionMacro("cannot write \"" << m_FileName << "\": a .tag file holds a 2D or 3D image, not " << dimensions
                                        << "D");
  }
  if (this->GetNumberOfComponents() != 1)
  {
    itkExceptionMacro("cannot write \"" << m_FileName << "\": a .tag file holds one label per voxel, not "
                                        << this->GetNumberOfComponents() << " components");
  }
  const IOComponentEnum componentType = this->GetComponentType();
  if (componentType != IOComponentEnum::UCHAR && componentType != IOComponentEnum::USHORT)
  {
    itkExceptionMacro("cannot write \"" << m_FileName << "\": a .tag file holds unsigned char (BYTE) or unsigned "
                                        << "short (SHORT) voxels, not "
                                        << ImageIOBase::GetComponentTypeAsString(componentType));
  }

  const MetaDataDictionary & dictionary = this->GetMetaDataDictionary();
  auto                       dictionaryValue = [&dictionary](const std::string & keyword) -> const std::string *
  {
    if (!dictionary.HasKey(keyword))
    {
      return nullptr;
    }
    const auto * object = dynamic_cast<const MetaDataObject<std::string> *>(dictionary.Get(keyword));
    return object != nullptr ? &object->GetMetaDataObjectValue() : nullptr;
  };

  Vector3 origin{ { 0.0, 0.0, 0.0 } };
  Vector3 spacing{ { 1.0, 1.0, 1.0 } };
  Vector3 rowDirection{ { 1.0, 0.0, 0.0 } };
  Vector3 columnDirection{ { 0.0, 1.0, 0.0 } };
  for (unsigned int i = 0; i < dimensions; ++i)
  {
    origin[i] = this->GetOrigin(i);
    spacing[i] = this->GetSpacing(i);
  }
  for (unsigned int i = 0; i < dimensions; ++i)
  {
    rowDirection[i] = this->GetDirection(0)[i];
    columnDirection[i] = this->GetDirection(1)[i];
  }
  if (dimensions == 2)
  {
    // A 2D image read from a one-slice tag keeps its slice position and
    // thickness in the dictionary; use them rather than inventing new ones.
    origin[2] = ParseRealOr(dictionaryValue("org_z"), 0.0);
    spacing[2] = ParseRealOr(dictionaryValue("epais"), 1.0);
  }
  rowDirection = Unit(rowDirection);
  columnDirection = Unit(columnDirection);
  const Vector3 sliceDirection = Unit(Cross(rowDirection, columnDirection));
  if (!std::isfinite(sliceDirection[0]) || !std::isfinite(sliceDirection[1]) || !std::isfinite(sliceDirection[2]))
  {
    itkExceptionMacro("cannot write \"" << m_FileName << "\": the row and column directions are zero or parallel");
  }
  // With more than one slice the slice axis places voxels, and the format
  // can only store dir_h x dir_v; with one slice it places nothing.
  if (dimensions == 3 && this->GetDimensions(2) > 1)
  {
    const Vector3 third = Unit({ { this->GetDirection(2)[0], this->GetDirection(2)[1], this->GetDirection(2)[2] } });
    for (unsigned int i = 0; i < 3; ++i)
    {
      if (!(std::abs(third[i] - sliceDirection[i]) <= 1e-4))
      {
        itkExceptionMacro("cannot write \"" << m_FileName << "\": the slice direction (" << third[0] << ", " << third[1]
                                            << ", " << third[2] << ") is not dir_h x dir_v (" << sliceDirection[0]
                                            << ", " << sliceDirection[1] << ", " << sliceDirection[2]
                                            << "); a .tag file cannot store it (reorient the image first)");
      }
    }
  }
  const char * spacingKeys[3] = { "inc_x", "inc_y", "epais" };
  for (unsigned int i = 0; i < 3; ++i)
  {
    const std::string stored = FormatReal(spacing[i]);
    if (!std::isfinite(origin[i]) || !(ParseRealOr(&stored, 0.0) > 0.0))
    {
      itkExceptionMacro("cannot write \"" << m_FileName << "\": origin " << origin[i] << " or spacing " << spacing[i]
                                          << " along axis " << i
                                          << " cannot be stored with the 4 decimals of a .tag file");
    }
  }

  const SizeValueType slices = dimensions == 3 ? this->GetDimensions(2) : 1;
  std::ostringstream  header;
  header << Field("x", std::to_string(this->GetDimensions(0)), 7)
         << Field("y", std::to_string(this->GetDimensions(1)), 7) << Field("z", std::to_string(slices), 7)
         << Field("type", componentType == IOComponentEnum::UCHAR ? "BYTE" : "SHORT", 5) << "\n";
  const char * originKeys[3] = { "org_x", "org_y", "org_z" };
  const char * rowKeys[3] = { "dir_h_x", "dir_h_y", "dir_h_z" };
  const char * columnKeys[3] = { "dir_v_x", "dir_v_y", "dir_v_z" };
  for (unsigned int i = 0; i < 3; ++i)
  {
    header << Field(originKeys[i], FormatReal(origin[i]), 11);
  }
  header << "\n";
  for (unsigned int i = 0; i < 3; ++i)
  {
    header << Field(spacingKeys[i], FormatReal(spacing[i]), 11);
  }
  header << "\n";
  for (unsigned int i = 0; i < 3; ++i)
  {
    header << Field(rowKeys[i], FormatReal(rowDirection[i]), 11);
  }
  header << "\n";
  for (unsigned int i = 0; i < 3; ++i)
  {
    header << Field(columnKeys[i], FormatReal(columnDirection[i]), 11);
  }
  header << "\n";

  std::vector<std::string> extras;
  for (const std::string & keyword : LeadingExtraKeywords())
  {
    if (dictionaryValue(keyword) != nullptr)
    {
      extras.push_back(keyword);
    }
  }
  for (const std::string & keyword : dictionary.GetKeys())
  {
    if (std::find(extras.begin(), extras.end(), keyword) == extras.end() && dictionaryValue(keyword))
    {
      extras.push_back(keyword);
    }
  }
  for (const std::string & keyword : extras)
  {
    const std::string * value = dictionaryValue(keyword);
    if (IsExtraKeyword(keyword) && IsSingleToken(*value))
    {
      header << keyword << ':' << *value << ' ';
    }
  }
  header << '\f';
  // Long metadata could make a header that no reader accepts (TagHeader
  // stops looking for the form feed there): refuse rather than write it.
  std::string text = header.str();
  if (text.size() > TagHeader::MaximumHeaderSize)
  {
    itkExceptionMacro("cannot write \"" << m_FileName << "\": the header would take " << text.size()
                                        << " bytes, more than the " << TagHeader::MaximumHeaderSize
                                        << " a .tag reader accepts (remove the long metadata entries)");
  }
  return text;
}

void
TagImageIO::Write(const void * buffer)
{
  const std::string   header = this->MakeHeaderText();
  const SizeValueType numberOfPixels = this->GetImageSizeInPixels();

  const std::string temporaryName = TemporaryNameBeside(m_FileName);
  bool              written = false;
  {
    std::ofstream file(temporaryName.c_str(), std::ios::out | std::ios::binary | std::ios::trunc);
    if (file.is_open())
    {
      file.write(header.data(), static_cast<std::streamsize>(header.size()));
      if (this->GetComponentType() == IOComponentEnum::USHORT && ByteSwapper<uint16_t>::SystemIsBigEndian())
      {
        const auto *          voxels = static_cast<const uint16_t *>(buffer);
        std::vector<uint16_t> swapped(voxels, voxels + numberOfPixels);
        ByteSwapper<uint16_t>::SwapRangeFromSystemToLittleEndian(swapped.data(), numberOfPixels);
        this->WriteBufferAsBinary(file, swapped.data(), numberOfPixels * 2);
      }
      else
      {
        this->WriteBufferAsBinary(file, buffer, numberOfPixels * this->GetComponentSize());
      }
      file.close();
      written = !file.fail();
    }
  }
  const std::string reason = std::strerror(errno);
  if (!written)
  {
    itksys::SystemTools::RemoveFile(temporaryName);
    itkExceptionMacro("cannot write \"" << m_FileName << "\": " << reason);
  }
  if (!ReplaceFile(temporaryName, m_FileName))
  {
    const std::string renameReason = std::strerror(errno);
    itksys::SystemTools::RemoveFile(temporaryName);
    itkExceptionMacro("cannot write \"" << m_FileName << "\": " << renameReason);
  }
}
} // end namespace itk
