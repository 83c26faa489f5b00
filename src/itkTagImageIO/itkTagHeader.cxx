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
#include "itkTagHeader.h"

#include "itkMacro.h"
#include "itksys/SystemTools.hxx"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <locale>
#include <sstream>

namespace itk
{
namespace
{
constexpr char FormFeed = '\f';

[[noreturn]] void
ThrowTagError(const std::string & fileName, const std::string & problem)
{
  itkGenericExceptionMacro("sliceOmatic .tag file \"" << fileName << "\": " << problem);
}

bool
IsSeparator(char c)
{
  return c == ' ' || c == ',' || c == '\t' || c == '\v';
}

bool
IsLineEnd(char c)
{
  return c == '\n' || c == '\r';
}

bool
IsKeywordChar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool
IsValueChar(char c)
{
  return c > ' ' && c < 0x7f;
}

std::string
ToLower(std::string text)
{
  std::transform(text.begin(),
                 text.end(),
                 text.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return text;
}

std::string
Quoted(const std::string & text)
{
  constexpr size_t maxShown = 40;
  std::string      shown = text.size() > maxShown ? text.substr(0, maxShown) + "..." : text;
  for (char & c : shown)
  {
    if (!IsValueChar(c))
    {
      c = '?';
    }
  }
  return "\"" + shown + "\"";
}

enum class Sniff
{
  Yes,
  No,
  Undecided // only blank lines, comments or a keyword so far: more bytes decide
};

/** Whether \a bytes start like a sliceOmatic header: optional blank or
 * comment lines, then a `keyword:value` token. */
Sniff
SniffHeader(const char * bytes, SizeValueType length)
{
  SizeValueType i = 0;
  while (i < length)
  {
    if (IsSeparator(bytes[i]) || IsLineEnd(bytes[i]))
    {
      ++i;
    }
    else if (bytes[i] == '*')
    {
      while (i < length && !IsLineEnd(bytes[i]))
      {
        ++i;
      }
    }
    else
    {
      break;
    }
  }
  SizeValueType keywordEnd = i;
  while (keywordEnd < length && IsKeywordChar(bytes[keywordEnd]))
  {
    ++keywordEnd;
  }
  if (i == length || keywordEnd == length)
  {
    return Sniff::Undecided;
  }
  if (keywordEnd == i || bytes[keywordEnd] != ':')
  {
    return Sniff::No;
  }
  if (keywordEnd + 1 == length)
  {
    return Sniff::Undecided;
  }
  const char first = bytes[keywordEnd + 1];
  return IsValueChar(first) && first != ',' && first != '*' ? Sniff::Yes : Sniff::No;
}

/** Splits the header text into keyword:value pairs, applying the separator,
 * line-end and comment rules. */
TagHeader::KeywordList
Tokenize(const char * bytes, SizeValueType length, const std::string & fileName)
{
  TagHeader::KeywordList keywords;
  bool                   inComment = false;
  SizeValueType          i = 0;
  while (i < length)
  {
    const char c = bytes[i];
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !IsSeparator(c) && !IsLineEnd(c)) || u == 0x7f)
    {
      std::ostringstream msg;
      msg << "unexpected byte 0x" << std::hex << std::setw(2) << std::setfill('0') << unsigned{ u } << std::dec
          << " at offset " << i << " in the header (the header must be text)";
      ThrowTagError(fileName, msg.str());
    }
    if (IsLineEnd(c))
    {
      inComment = false;
      ++i;
      continue;
    }
    if (inComment || IsSeparator(c))
    {
      ++i;
      continue;
    }
    if (c == '*')
    {
      inComment = true;
      ++i;
      continue;
    }
    SizeValueType end = i;
    while (end < length && !IsSeparator(bytes[end]) && !IsLineEnd(bytes[end]) && bytes[end] != '*')
    {
      ++end;
    }
    const std::string token(bytes + i, bytes + end);
    const size_t      colon = token.find(':');
    if (colon == std::string::npos || colon == 0)
    {
      ThrowTagError(fileName, "unexpected text " + Quoted(token) + " in the header (expected keyword:value)");
    }
    const std::string keyword = ToLower(token.substr(0, colon));
    const std::string value = token.substr(colon + 1);
    if (!std::all_of(keyword.begin(), keyword.end(), IsKeywordChar))
    {
      ThrowTagError(fileName, "invalid keyword " + Quoted(keyword) + " in the header");
    }
    if (value.empty())
    {
      ThrowTagError(fileName, "keyword \"" + keyword + "\" has no value");
    }
    if (!std::all_of(value.begin(), value.end(), IsValueChar))
    {
      ThrowTagError(fileName, "the value of \"" + keyword + "\" holds a non-text byte");
    }
    const bool duplicate =
      std::any_of(keywords.begin(),
                  keywords.end(),
                  [&keyword](const TagHeader::KeywordList::value_type & kv) { return kv.first == keyword; });
    if (duplicate)
    {
      ThrowTagError(fileName, "keyword \"" + keyword + "\" appears more than once");
    }
    keywords.emplace_back(keyword, value);
    i = end;
  }
  return keywords;
}

SizeValueType
ParseDimension(const TagHeader & header, const char * keyword, const std::string & fileName)
{
  const std::string * text = header.Find(keyword);
  if (text == nullptr)
  {
    ThrowTagError(fileName, std::string("the required keyword \"") + keyword + "\" is missing");
  }
  const std::string & value = *text;
  const bool          digitsOnly = std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  // A dimension is a count: anything but a positive decimal integer is refused,
  // and 2^31 per axis is far beyond any scanner yet keeps products in range.
  constexpr SizeValueType maxDimension = SizeValueType{ 1 } << 31;
  if (!digitsOnly)
  {
    ThrowTagError(fileName, std::string("\"") + keyword + "\" must be a positive whole number, not " + Quoted(value));
  }
  // Too many digits for std::stoull is too large, not "not a number".
  const size_t        firstDigit = std::min(value.find_first_not_of('0'), value.size());
  const SizeValueType dimension = value.size() - firstDigit > 10 ? maxDimension + 1 : std::stoull(value);
  if (dimension == 0 || dimension > maxDimension)
  {
    ThrowTagError(fileName, std::string("\"") + keyword + "\" must be between 1 and 2147483648, not " + Quoted(value));
  }
  return dimension;
}

double
ParseReal(const TagHeader & header, const std::string & keyword, double defaultValue, const std::string & fileName)
{
  const std::string * text = header.Find(keyword);
  if (text == nullptr)
  {
    return defaultValue;
  }
  double value = 0.0;
  if (!TagHeader::ParseNumber(*text, value))
  {
    ThrowTagError(fileName, "\"" + keyword + "\" must be a finite number, not " + Quoted(*text));
  }
  return value;
}

std::array<double, 3>
ParseVector(const TagHeader &             header,
            const std::string &           prefix,
            const std::array<double, 3> & defaultValue,
            const std::string &           fileName)
{
  const char *          axes[3] = { "x", "y", "z" };
  std::array<double, 3> result = defaultValue;
  const bool            anyGiven = header.Find(prefix + "x") || header.Find(prefix + "y") || header.Find(prefix + "z");
  if (!anyGiven)
  {
    return result;
  }
  for (unsigned int i = 0; i < 3; ++i)
  {
    result[i] = ParseReal(header, prefix + axes[i], 0.0, fileName);
  }
  return result;
}

double
Norm(const std::array<double, 3> & v)
{
  return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

std::array<double, 3>
Cross(const std::array<double, 3> & a, const std::array<double, 3> & b)
{
  return { { a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0] } };
}

std::array<double, 3>
Normalized(const std::array<double, 3> & v, const std::string & name, const std::string & fileName)
{
  const double norm = Norm(v);
  if (!(norm > 1e-12) || !std::isfinite(norm))
  {
    ThrowTagError(fileName, "the direction " + name + " is a zero vector");
  }
  return { { v[0] / norm, v[1] / norm, v[2] / norm } };
}

void
InterpretGeometry(TagHeader & header, const std::string & fileName)
{
  header.Size = { { ParseDimension(header, "x", fileName),
                    ParseDimension(header, "y", fileName),
                    ParseDimension(header, "z", fileName) } };

  if (const std::string * type = header.Find("type"))
  {
    const std::string upper = ToLower(*type);
    if (upper == "byte")
    {
      header.ComponentType = IOComponentEnum::UCHAR;
    }
    else if (upper == "short")
    {
      header.ComponentType = IOComponentEnum::USHORT;
    }
    else
    {
      ThrowTagError(fileName, "unsupported type " + Quoted(*type) + " (expected BYTE or SHORT)");
    }
  }

  const char * originKeys[3] = { "org_x", "org_y", "org_z" };
  const char * spacingKeys[3] = { "inc_x", "inc_y", "epais" };
  for (unsigned int i = 0; i < 3; ++i)
  {
    header.Origin[i] = ParseReal(header, originKeys[i], 0.0, fileName);
    header.Spacing[i] = ParseReal(header, spacingKeys[i], 1.0, fileName);
    if (!(header.Spacing[i] > 0.0))
    {
      ThrowTagError(fileName,
                    std::string("\"") + spacingKeys[i] + "\" must be a positive spacing, not " +
                      *header.Find(spacingKeys[i]));
    }
  }

  const std::array<double, 3> rowDirection =
    Normalized(ParseVector(header, "dir_h_", { { 1.0, 0.0, 0.0 } }, fileName), "dir_h", fileName);
  const std::array<double, 3> columnDirection =
    Normalized(ParseVector(header, "dir_v_", { { 0.0, 1.0, 0.0 } }, fileName), "dir_v", fileName);
  const std::array<double, 3> sliceDirection = Cross(rowDirection, columnDirection);
  // Unit vectors closer than about 0.06 degrees cannot span an image plane.
  if (Norm(sliceDirection) < 1e-3)
  {
    ThrowTagError(fileName, "the directions dir_h and dir_v are parallel");
  }
  header.Direction = { { rowDirection, columnDirection, Normalized(sliceDirection, "dir_h x dir_v", fileName) } };
}

void
CheckDataFits(const TagHeader & header, const std::string & fileName)
{
  SizeValueType bytes = header.GetBytesPerVoxel();
  for (const SizeValueType dimension : header.Size)
  {
    if (bytes > std::numeric_limits<SizeValueType>::max() / dimension)
    {
      ThrowTagError(fileName, "the image size x*y*z overflows");
    }
    bytes *= dimension;
  }
  const SizeValueType available = header.FileSize - header.HeaderSize;
  if (bytes > available)
  {
    std::ostringstream msg;
    msg << "truncated data: the header announces " << header.Size[0] << "x" << header.Size[1] << "x" << header.Size[2]
        << " voxels (" << bytes << " bytes) but only " << available << " bytes follow the header";
    ThrowTagError(fileName, msg.str());
  }
}
} // namespace

SizeValueType
TagHeader::GetBytesPerVoxel() const
{
  return this->ComponentType == IOComponentEnum::USHORT ? 2 : 1;
}

SizeValueType
TagHeader::GetDataSize() const
{
  return this->Size[0] * this->Size[1] * this->Size[2] * this->GetBytesPerVoxel();
}

bool
TagHeader::ParseNumber(const std::string & text, double & value)
{
  // The classic locale keeps '.' the decimal point whatever the host
  // application (Qt, Slicer) set LC_NUMERIC to.
  std::istringstream stream(text);
  stream.imbue(std::locale::classic());
  stream >> value;
  return !stream.fail() && stream.eof() && std::isfinite(value);
}

const std::string *
TagHeader::Find(const std::string & keyword) const
{
  for (const auto & kv : this->Keywords)
  {
    if (kv.first == keyword)
    {
      return &kv.second;
    }
  }
  return nullptr;
}

TagHeader
TagHeader::Parse(const char * bytes, SizeValueType length, SizeValueType fileSize, const std::string & fileName)
{
  if (length == 0 || bytes[length - 1] != FormFeed || length > fileSize)
  {
    ThrowTagError(fileName, "internal error: the header passed to the parser does not end with its form feed");
  }
  TagHeader header;
  header.HeaderSize = length;
  header.FileSize = fileSize;
  header.Keywords = Tokenize(bytes, length - 1, fileName);
  InterpretGeometry(header, fileName);
  CheckDataFits(header, fileName);
  return header;
}

bool
TagHeader::LooksLikeTagHeader(const char * bytes, SizeValueType length)
{
  return SniffHeader(bytes, length) == Sniff::Yes;
}

bool
TagHeader::FileLooksLikeTagHeader(const std::string & fileName)
{
  if (fileName.empty() || itksys::SystemTools::FileIsDirectory(fileName))
  {
    return false;
  }
  std::ifstream file(fileName.c_str(), std::ios::in | std::ios::binary);
  if (!file.is_open())
  {
    return false;
  }
  // Most files are decided by their first bytes; only blank and comment lines
  // longer than a step make it read on, as far as the header may go.
  constexpr SizeValueType step = 4096;
  std::vector<char>       bytes;
  while (bytes.size() < MaximumHeaderSize)
  {
    const SizeValueType start = bytes.size();
    bytes.resize(start + step);
    file.read(bytes.data() + start, static_cast<std::streamsize>(step));
    bytes.resize(start + static_cast<SizeValueType>(file.gcount()));
    const void * formFeed = std::memchr(bytes.data() + start, FormFeed, bytes.size() - start);
    if (formFeed != nullptr)
    {
      // The header ends there: decided, as TagHeader::Read decides.
      const auto length = static_cast<SizeValueType>(static_cast<const char *>(formFeed) - bytes.data()) + 1;
      return LooksLikeTagHeader(bytes.data(), length);
    }
    const Sniff sniff = SniffHeader(bytes.data(), bytes.size());
    if (sniff != Sniff::Undecided || bytes.size() == start)
    {
      return sniff == Sniff::Yes;
    }
  }
  return false;
}

TagHeader
TagHeader::FromFileStart(const char * bytes, SizeValueType length, SizeValueType fileSize, const std::string & fileName)
{
  if (fileSize == 0)
  {
    ThrowTagError(fileName, "the file is empty");
  }
  // Only the first MaximumHeaderSize bytes can hold a header: whatever more a
  // caller read changes no decision (the same bytes FileLooksLikeTagHeader sees).
  // (A copy: std::min takes references, and ITK 5.2 builds as C++14, where binding
  // one to the static member needs a definition the header does not give.)
  const SizeValueType maximumHeaderSize = MaximumHeaderSize;
  length = std::min(length, maximumHeaderSize);
  static const char mniMagic[] = "MNI Tag Point File";
  if (length >= sizeof(mniMagic) - 1 && std::memcmp(bytes, mniMagic, sizeof(mniMagic) - 1) == 0)
  {
    ThrowTagError(fileName, "is an MNI tag point (landmark) file, not a sliceOmatic tag file");
  }
  const void * hit = length == 0 ? nullptr : std::memchr(bytes, FormFeed, length);
  const SizeValueType headerLength =
    hit != nullptr ? static_cast<SizeValueType>(static_cast<const char *>(hit) - bytes) + 1 : length;
  if (!LooksLikeTagHeader(bytes, headerLength))
  {
    ThrowTagError(fileName, "not a sliceOmatic tag file (it does not start with a keyword:value header)");
  }
  if (hit == nullptr)
  {
    std::ostringstream msg;
    msg << "no form feed (0x0C) ends the header";
    if (fileSize > MaximumHeaderSize)
    {
      msg << " within the first " << MaximumHeaderSize << " bytes";
    }
    ThrowTagError(fileName, msg.str());
  }
  return Parse(bytes, headerLength, fileSize, fileName);
}

TagHeader
TagHeader::Read(const std::string & fileName)
{
  if (itksys::SystemTools::FileIsDirectory(fileName))
  {
    ThrowTagError(fileName, "is a directory, not a file");
  }
  std::ifstream file(fileName.c_str(), std::ios::in | std::ios::binary);
  if (!file.is_open())
  {
    ThrowTagError(fileName, std::string("cannot be opened: ") + std::strerror(errno));
  }
  file.seekg(0, std::ios::end);
  const std::streamoff end = file.tellg();
  file.seekg(0, std::ios::beg);
  if (end < 0 || file.fail())
  {
    ThrowTagError(fileName, "cannot determine the file size");
  }
  const auto fileSize = static_cast<SizeValueType>(end);

  // Read in small steps: real headers are a few hundred bytes, so reading the
  // whole cap (or the whole file) would waste I/O on every open.
  constexpr SizeValueType step = 4096;
  const SizeValueType     maximumHeaderSize = MaximumHeaderSize; // a copy for std::min (see FromFileStart)
  const SizeValueType     limit = std::min(fileSize, maximumHeaderSize);
  std::vector<char>       bytes;
  bool                    found = false;
  while (!found && bytes.size() < limit)
  {
    const SizeValueType start = bytes.size();
    const SizeValueType count = std::min(step, limit - start);
    bytes.resize(start + count);
    file.read(bytes.data() + start, static_cast<std::streamsize>(count));
    if (static_cast<SizeValueType>(file.gcount()) != count)
    {
      ThrowTagError(fileName, "read error while reading the header");
    }
    found = std::memchr(bytes.data() + start, FormFeed, count) != nullptr;
  }
  return FromFileStart(bytes.data(), bytes.size(), fileSize, fileName);
}
} // end namespace itk
