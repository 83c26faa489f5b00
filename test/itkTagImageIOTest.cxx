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
// Tests of itk::TagImageIO on the real sample files and on generated files
// covering every rule of FORMAT.md. Expected values are computed here, from
// the bytes the test writes, never by the code under test.
//
// Usage: itkTagImageIOTest <case> <data dir> <scratch dir>
#include "itkTagTestSupport.h"

#include "itkGDCMImageIO.h"
#include "itkImageRegionConstIterator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace
{
using namespace itk::tagtest;

// ---------------------------------------------------------------- real files
struct RealFile
{
  std::string   Tag;
  std::string   Dicom;
  Vec3          Origin;
  Vec3          Spacing;
  std::set<int> Labels;
  std::string   Uid;
};

const std::vector<RealFile> &
RealFiles()
{
  static const std::vector<RealFile> files = {
    { "sandbox-test01.dcm.tag",
      "sandbox-test01.dcm",
      { -175.1475, -339.6475, -166.8 },
      { 0.7051, 0.7051, 1.5 },
      { 0, 1 },
      "EE9DCED7" },
    { "barbell2-10.tag", "barbell2-10.dcm", { -207.0, -58.0, 293.1 }, { 0.6758, 0.6758, 3.0 }, { 0, 1, 5, 7 }, "" },
  };
  return files;
}

void
TestRealFiles(const Paths & paths)
{
  for (const RealFile & real : RealFiles())
  {
    const std::string fileName = paths.Data + "/" + real.Tag;
    const auto        image = ReadTag<UCharImage>(fileName);
    const std::string bytes = ReadBytes(fileName);
    const size_t      formFeed = bytes.find('\f');

    Check(image->GetLargestPossibleRegion().GetSize()[0] == 512 &&
            image->GetLargestPossibleRegion().GetSize()[1] == 512 &&
            image->GetLargestPossibleRegion().GetSize()[2] == 1,
          real.Tag + ": size 512x512x1");
    for (unsigned int i = 0; i < 3; ++i)
    {
      CheckNear(image->GetOrigin()[i], real.Origin[i], 1e-12, real.Tag + ": origin");
      CheckNear(image->GetSpacing()[i], real.Spacing[i], 1e-12, real.Tag + ": spacing");
      for (unsigned int j = 0; j < 3; ++j)
      {
        CheckNear(image->GetDirection()[i][j], i == j ? 1.0 : 0.0, 1e-12, real.Tag + ": direction");
      }
    }

    // The voxels are exactly the bytes after the first form feed.
    const UCharImage::PixelType * voxels = image->GetBufferPointer();
    Check(bytes.size() - formFeed - 1 == 512 * 512, real.Tag + ": data size");
    Check(std::equal(voxels, voxels + 512 * 512, reinterpret_cast<const unsigned char *>(bytes.data()) + formFeed + 1),
          real.Tag + ": voxels equal the bytes after the form feed");
    Check(voxels[0] != '\f', real.Tag + ": voxel (0,0,0) is data, not the form feed");

    std::set<int> labels(voxels, voxels + 512 * 512);
    Check(labels == real.Labels, real.Tag + ": label set");

    const itk::MetaDataDictionary & dictionary = image->GetMetaDataDictionary();
    std::string                     uid;
    Check(itk::ExposeMetaData<std::string>(dictionary, "uid", uid) == !real.Uid.empty() && uid == real.Uid,
          real.Tag + ": uid in the metadata");
    std::string x;
    Check(itk::ExposeMetaData<std::string>(dictionary, "x", x) && x == "512", real.Tag + ": x in the metadata");

    // The paired DICOM, read by GDCM: same grid within the 4 decimals of the tag.
    auto dicomIO = itk::GDCMImageIO::New();
    dicomIO->SetFileName(paths.Data + "/" + real.Dicom);
    dicomIO->ReadImageInformation();
    for (unsigned int i = 0; i < 3; ++i)
    {
      CheckNear(image->GetOrigin()[i], dicomIO->GetOrigin(i), 1e-4, real.Tag + ": origin = DICOM ImagePositionPatient");
      for (unsigned int j = 0; j < 3; ++j)
      {
        for (unsigned int axis = 0; axis < 2; ++axis)
        {
          CheckNear(image->GetDirection()[j][axis],
                    dicomIO->GetDirection(axis)[j],
                    1e-4,
                    real.Tag + ": direction = DICOM ImageOrientationPatient");
        }
      }
    }
    for (unsigned int i = 0; i < 2; ++i)
    {
      CheckNear(image->GetSpacing()[i], dicomIO->GetSpacing(i), 1e-4, real.Tag + ": spacing = DICOM PixelSpacing");
    }
    std::string thickness;
    itk::ExposeMetaData<std::string>(dicomIO->GetMetaDataDictionary(), "0018|0050", thickness);
    CheckNear(image->GetSpacing()[2], std::stod(thickness), 1e-4, real.Tag + ": epais = DICOM SliceThickness");
  }
}

// ------------------------------------------------------------ format rules
struct GeneratedCase
{
  std::string Name;
  std::string Header; // up to and including the form feed
  Size3       Size;
  bool        Short;
  Vec3        Origin;
  Vec3        Spacing;
  Vec3        Row;
  Vec3        Column;
};

Vec3
Normalize(const Vec3 & v)
{
  const double n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  return { v[0] / n, v[1] / n, v[2] / n };
}

std::vector<GeneratedCase>
GeneratedCases()
{
  const Vec3 x{ 1, 0, 0 };
  const Vec3 y{ 0, 1, 0 };
  return {
    { "crlf",
      "x:4 y:3 z:1 type:BYTE\r\norg_x:1.5 org_y:-2.25 org_z:3\r\ninc_x:0.5 inc_y:0.25 epais:2\r\n\f",
      { 4, 3, 1 },
      false,
      { 1.5, -2.25, 3 },
      { 0.5, 0.25, 2 },
      x,
      y },
    { "cr-only",
      "x:4 y:3 z:1 type:BYTE\rorg_x:1 org_y:2 org_z:3\rinc_x:0.5 inc_y:0.5 epais:1\r\f",
      { 4, 3, 1 },
      false,
      { 1, 2, 3 },
      { 0.5, 0.5, 1 },
      x,
      y },
    { "ff-after-value",
      "x:4 y:3 z:1 type:BYTE\norg_x:0 org_y:0 org_z:0\ninc_x:1 inc_y:1 epais:1\nuid:00000001 chksum:ABCDEF01 \f",
      { 4, 3, 1 },
      false,
      { 0, 0, 0 },
      { 1, 1, 1 },
      x,
      y },
    { "ff-own-line", "x:4 y:3 z:1 type:BYTE\nepais:5.0000\n\f", { 4, 3, 1 }, false, { 0, 0, 0 }, { 1, 1, 5 }, x, y },
    { "comments-with-colons",
      "* sliceOmatic tag: version 4.3: test\nx:4 y:3 z:1 type:BYTE * trailing: comment\n* number of echos: "
      "0\ninc_x:0.7105 inc_y:0.7105 epais:5.0000\n\f",
      { 4, 3, 1 },
      false,
      { 0, 0, 0 },
      { 0.7105, 0.7105, 5 },
      x,
      y },
    { "commas-and-tabs",
      "x:4,y:3,\tz:1\ttype:BYTE,\norg_x:-204.2221,org_y:-181.8909,\torg_z:-250.0000\n\f",
      { 4, 3, 1 },
      false,
      { -204.2221, -181.8909, -250 },
      { 1, 1, 1 },
      x,
      y },
    { "upper-case-keywords",
      "X:4 Y:3 Z:1 TYPE:byte\nORG_X:7 Org_Y:8 org_z:9\nINC_X:2 INC_Y:3 EPAIS:4\n\f",
      { 4, 3, 1 },
      false,
      { 7, 8, 9 },
      { 2, 3, 4 },
      x,
      y },
    { "bin-and-unknown",
      "x:4 y:3 z:1 type:BYTE\nuid:AFCCCAC6 chksum:09F1588D bin:256 dim_x:2.8420 future_key:a:b\n* number of echos: "
      "0\n\f",
      { 4, 3, 1 },
      false,
      { 0, 0, 0 },
      { 1, 1, 1 },
      x,
      y },
    { "multi-slice",
      "x:5 y:4 z:6 type:BYTE\norg_x:10 org_y:20 org_z:30\ninc_x:0.5 inc_y:0.5 epais:2.5\n\f",
      { 5, 4, 6 },
      false,
      { 10, 20, 30 },
      { 0.5, 0.5, 2.5 },
      x,
      y },
    { "oblique",
      "x:6 y:5 z:3 type:BYTE\norg_x:-10.1234 org_y:5.5 org_z:100\ninc_x:0.8 inc_y:0.9 epais:3\ndir_h_x:0.8660 "
      "dir_h_y:0.5000 dir_h_z:0.0000\ndir_v_x:-0.3536 dir_v_y:0.6124 dir_v_z:0.7071\n\f",
      { 6, 5, 3 },
      false,
      { -10.1234, 5.5, 100 },
      { 0.8, 0.9, 3 },
      { 0.866, 0.5, 0 },
      { -0.3536, 0.6124, 0.7071 } },
    { "high-labels", "x:16 y:16 z:1 type:BYTE\n\f", { 16, 16, 1 }, false, { 0, 0, 0 }, { 1, 1, 1 }, x, y },
    { "short",
      "x:7 y:3 z:2 type:SHORT\ninc_x:1.25 inc_y:1.25 epais:1.25\n\f",
      { 7, 3, 2 },
      true,
      { 0, 0, 0 },
      { 1.25, 1.25, 1.25 },
      x,
      y },
  };
}

/** Voxel values that differ from voxel to voxel and slice to slice, cover
 * 128-255 (signedness) and for SHORT the high byte (byte order). */
std::vector<unsigned int>
VoxelValues(const GeneratedCase & c)
{
  const size_t              count = c.Size[0] * c.Size[1] * c.Size[2];
  std::vector<unsigned int> values(count);
  for (size_t i = 0; i < count; ++i)
  {
    values[i] =
      c.Short ? static_cast<unsigned int>((i * 9973 + 1) % 65536) : static_cast<unsigned int>((i * 37 + 200) % 256);
  }
  if (c.Short)
  {
    values[count - 1] = 65535;
  }
  return values;
}

std::string
VoxelBytes(const GeneratedCase & c)
{
  std::string bytes;
  for (const unsigned int v : VoxelValues(c))
  {
    bytes += static_cast<char>(v & 0xff);
    if (c.Short)
    {
      bytes += static_cast<char>(v >> 8); // little endian
    }
  }
  return bytes;
}

std::string
WriteCase(const Paths & paths, const GeneratedCase & c)
{
  const std::string fileName = paths.Scratch + "/" + c.Name + ".tag";
  WriteBytes(fileName, c.Header + VoxelBytes(c));
  return fileName;
}

template<typename TImage>
void
CheckCase(const GeneratedCase & c, const TImage * image, const std::string & what)
{
  for (unsigned int i = 0; i < 3; ++i)
  {
    Check(image->GetLargestPossibleRegion().GetSize()[i] == c.Size[i], what + ": size");
    CheckNear(image->GetOrigin()[i], c.Origin[i], 1e-12, what + ": origin");
    CheckNear(image->GetSpacing()[i], c.Spacing[i], 1e-12, what + ": spacing");
  }
  const Vec3 row = Normalize(c.Row);
  const Vec3 column = Normalize(c.Column);
  const Vec3 slice = Normalize({ row[1] * column[2] - row[2] * column[1],
                                 row[2] * column[0] - row[0] * column[2],
                                 row[0] * column[1] - row[1] * column[0] });
  for (unsigned int j = 0; j < 3; ++j)
  {
    CheckNear(image->GetDirection()[j][0], row[j], 1e-12, what + ": direction column 0");
    CheckNear(image->GetDirection()[j][1], column[j], 1e-12, what + ": direction column 1");
    CheckNear(image->GetDirection()[j][2], slice[j], 1e-12, what + ": direction column 2");
  }
  const std::vector<unsigned int> expected = VoxelValues(c);
  const auto *                    voxels = image->GetBufferPointer();
  for (size_t i = 0; i < expected.size(); ++i)
  {
    Check(static_cast<unsigned int>(voxels[i]) == expected[i], what + ": voxel " + std::to_string(i));
  }
}

void
TestFormatRules(const Paths & paths)
{
  for (const GeneratedCase & c : GeneratedCases())
  {
    const std::string fileName = WriteCase(paths, c);
    if (c.Short)
    {
      const auto image = ReadTag<UShortImage>(fileName);
      CheckCase(c, image.GetPointer(), c.Name);
      auto io = itk::TagImageIO::New();
      io->SetFileName(fileName);
      io->ReadImageInformation();
      Check(io->GetComponentType() == itk::IOComponentEnum::USHORT, c.Name + ": SHORT reads as unsigned short");
    }
    else
    {
      const auto image = ReadTag<UCharImage>(fileName);
      CheckCase(c, image.GetPointer(), c.Name);
    }
    auto io = itk::TagImageIO::New();
    io->SetFileName(fileName);
    io->ReadImageInformation();
    Check(io->GetHeader().HeaderSize == c.Header.size(), c.Name + ": header size is found, up to the form feed");
  }

  // Every keyword is kept as metadata, unknown ones included.
  auto io = itk::TagImageIO::New();
  io->SetFileName(paths.Scratch + "/bin-and-unknown.tag");
  io->ReadImageInformation();
  const std::map<std::string, std::string> expected = { { "x", "4" },           { "type", "BYTE" },
                                                        { "uid", "AFCCCAC6" },  { "chksum", "09F1588D" },
                                                        { "bin", "256" },       { "dim_x", "2.8420" },
                                                        { "future_key", "a:b" } };
  for (const auto & kv : expected)
  {
    std::string value;
    Check(itk::ExposeMetaData<std::string>(io->GetMetaDataDictionary(), kv.first, value) && value == kv.second,
          "metadata " + kv.first);
  }
}

void
TestCanReadFile(const Paths & paths)
{
  auto io = itk::TagImageIO::New();
  Check(io->CanReadFile((paths.Data + "/barbell2-10.tag").c_str()), "claims a real tag");
  Check(!io->CanReadFile((paths.Data + "/barbell2-10.dcm").c_str()), "refuses a DICOM");
  const std::string mni = paths.Scratch + "/landmarks.tag";
  WriteBytes(mni, "MNI Tag Point File\nVolumes = 1;\n% comment\n\nPoints =\n 1.0 2.0 3.0 \"a\";\n");
  Check(!io->CanReadFile(mni.c_str()), "refuses an MNI landmark .tag");
  const std::string renamed = paths.Scratch + "/tag-without-extension.bin";
  WriteBytes(renamed, "x:2 y:1 z:1 type:BYTE\n\f\x01\x02");
  Check(io->CanReadFile(renamed.c_str()), "decides by content, not by extension");
  Check(!io->CanReadFile(paths.Scratch.c_str()), "refuses a directory");
  Check(io->CanWriteFile("out.tag") && io->CanWriteFile("OUT.TAG") && !io->CanWriteFile("out.nrrd"),
        "writes .tag only");
}

// ------------------------------------------------------------------ errors
struct ErrorCase
{
  std::string Name;
  std::string Bytes;
  std::string Message; // expected part of the exception description
};

std::vector<ErrorCase>
ErrorCases()
{
  const std::string data12(12, '\1');
  return {
    { "empty", "", "the file is empty" },
    { "no-form-feed", "x:4 y:3 z:1 type:BYTE\n" + data12, "no form feed" },
    { "missing-x", "y:3 z:1\n\f" + data12, "\"x\" is missing" },
    { "missing-y", "x:4 z:1\n\f" + data12, "\"y\" is missing" },
    { "missing-z", "x:4 y:3\n\f" + data12, "\"z\" is missing" },
    { "zero-size", "x:0 y:3 z:1\n\f", "\"x\" must be between 1 and" },
    { "negative-size", "x:-4 y:3 z:1\n\f" + data12, "\"x\" must be a positive whole number" },
    { "non-numeric-size", "x:four y:3 z:1\n\f" + data12, "\"x\" must be a positive whole number" },
    { "fractional-size", "x:4.5 y:3 z:1\n\f" + data12, "\"x\" must be a positive whole number" },
    { "overflowing-size", "x:2147483648 y:2147483648 z:2147483648 type:SHORT\n\f", "overflows" },
    { "huge-size", "x:200000 y:200000 z:200000\n\f" + data12, "truncated data" },
    { "truncated-data", "x:4 y:3 z:1\n\f" + data12.substr(1), "truncated data" },
    { "nan-spacing", "x:4 y:3 z:1 inc_x:nan\n\f" + data12, "\"inc_x\" must be a finite number" },
    { "inf-spacing", "x:4 y:3 z:1 inc_y:inf\n\f" + data12, "\"inc_y\" must be a finite number" },
    { "overflowing-spacing", "x:4 y:3 z:1 epais:1e999\n\f" + data12, "\"epais\" must be a finite number" },
    { "zero-spacing", "x:4 y:3 z:1 inc_x:0.0000\n\f" + data12, "\"inc_x\" must be a positive spacing" },
    { "negative-spacing", "x:4 y:3 z:1 epais:-5\n\f" + data12, "\"epais\" must be a positive spacing" },
    { "non-numeric-origin", "x:4 y:3 z:1 org_x:1,5\n\f" + data12, "unexpected text \"5\"" },
    { "zero-direction", "x:4 y:3 z:1 dir_h_x:0 dir_h_y:0 dir_h_z:0\n\f" + data12, "dir_h is a zero vector" },
    { "parallel-directions",
      "x:4 y:3 z:1 dir_h_x:1 dir_h_y:0 dir_h_z:0 dir_v_x:2 dir_v_y:0 dir_v_z:0\n\f" + data12,
      "parallel" },
    { "unknown-type", "x:4 y:3 z:1 type:FLOAT\n\f" + data12, "unsupported type \"FLOAT\"" },
    { "duplicate-keyword", "x:4 y:3 z:1 x:5\n\f" + data12, "\"x\" appears more than once" },
    { "keyword-without-value", "x:4 y:3 z: 1\n\f" + data12, "\"z\" has no value" },
    { "binary-garbage", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + data12, "not a sliceOmatic tag file" },
    { "binary-in-header", std::string("x:4 y:3 z:1 \x01\x02\n\f", 16) + data12, "unexpected byte 0x01" },
    { "mni-landmarks", "MNI Tag Point File\nVolumes = 1;\nPoints =\n 1 2 3 \"a\";\n", "MNI tag point" },
  };
}

void
CheckThrows(const std::string & fileName, const std::string & expected, const std::string & what)
{
  bool        thrown = false;
  std::string message;
  try
  {
    auto io = itk::TagImageIO::New();
    io->SetFileName(fileName);
    io->ReadImageInformation();
    std::vector<char> buffer(io->GetImageSizeInBytes());
    io->Read(buffer.data());
  }
  catch (const itk::ExceptionObject & exception)
  {
    thrown = true;
    message = exception.GetDescription();
  }
  Check(thrown, what + ": an itk::ExceptionObject is thrown");
  Check(message.find(fileName) != std::string::npos, what + ": the message names the file: " + message);
  Check(message.find(expected) != std::string::npos, what + ": the message says \"" + expected + "\": " + message);
}

void
TestErrors(const Paths & paths)
{
  for (const ErrorCase & c : ErrorCases())
  {
    const std::string fileName = paths.Scratch + "/error-" + c.Name + ".tag";
    WriteBytes(fileName, c.Bytes);
    CheckThrows(fileName, c.Message, c.Name);
  }
  CheckThrows(paths.Scratch + "/no-such-file.tag", "cannot be opened", "missing file");
  const std::string folder = paths.Scratch + "/folder.tag";
  itksys::SystemTools::MakeDirectory(folder);
  CheckThrows(folder, "is a directory", "directory named .tag");

  // A reader through ImageFileReader reports the same problem.
  bool thrown = false;
  try
  {
    ReadTag<UCharImage>(paths.Scratch + "/error-truncated-data.tag");
  }
  catch (const itk::ExceptionObject & exception)
  {
    thrown = std::string(exception.GetDescription()).find("truncated data") != std::string::npos;
  }
  Check(thrown, "ImageFileReader reports truncated data");
}

// -------------------------------------------------------------- round trips
void
TestRoundTrip(const Paths & paths)
{
  for (const RealFile & real : RealFiles())
  {
    const std::string source = paths.Data + "/" + real.Tag;
    const std::string copy = paths.Scratch + "/roundtrip-" + real.Tag;
    WriteTag<UCharImage>(ReadTag<UCharImage>(source), copy);
    Check(ReadBytes(copy) == ReadBytes(source), real.Tag + ": read then write gives the same bytes");
  }
  for (const GeneratedCase & c : GeneratedCases())
  {
    const std::string source = WriteCase(paths, c);
    const std::string copy = paths.Scratch + "/roundtrip-" + c.Name + ".tag";
    if (c.Short)
    {
      WriteTag<UShortImage>(ReadTag<UShortImage>(source), copy);
      CheckCase(c, ReadTag<UShortImage>(copy).GetPointer(), "round trip " + c.Name);
    }
    else
    {
      WriteTag<UCharImage>(ReadTag<UCharImage>(source), copy);
      CheckCase(c, ReadTag<UCharImage>(copy).GetPointer(), "round trip " + c.Name);
    }
  }
  // Header values are written back as read: 4 decimals, uid/chksum/bin kept.
  const std::string copy = ReadBytes(paths.Scratch + "/roundtrip-bin-and-unknown.tag");
  Check(copy.find("uid:AFCCCAC6 chksum:09F1588D bin:256 dim_x:2.8420 future_key:a:b \f") != std::string::npos,
        "extra keywords written back in order: " + copy.substr(0, copy.find('\f')));
  const std::string oblique = ReadBytes(paths.Scratch + "/roundtrip-oblique.tag");
  Check(oblique.find("org_x:-10.1234") != std::string::npos, "4 decimals in the written header");
}

void
TestTwoDimensionalWrite(const Paths & paths)
{
  // A 2D image read from a one-slice tag keeps org_z and epais.
  const std::string source = paths.Data + "/barbell2-10.tag";
  const auto        image = ReadTag<UChar2DImage>(source);
  const std::string copy = paths.Scratch + "/roundtrip-2d.tag";
  WriteTag<UChar2DImage>(image, copy);
  Check(ReadBytes(copy) == ReadBytes(source), "2D read then write gives the same bytes");
}

// ------------------------------------------------------------ write errors
template<typename TImage>
std::string
WriteError(const typename TImage::Pointer & image, const std::string & fileName)
{
  try
  {
    WriteTag<TImage>(image, fileName);
  }
  catch (const itk::ExceptionObject & exception)
  {
    return exception.GetDescription();
  }
  return "";
}

void
TestWriteErrors(const Paths & paths)
{
  const std::string target = paths.Scratch + "/existing.tag";
  const std::string original = ReadBytes(paths.Data + "/barbell2-10.tag");
  WriteBytes(target, original);

  auto        floats = MakeImage<itk::Image<float, 3>>({ 4, 3, 2 });
  std::string message = WriteError<itk::Image<float, 3>>(floats, target);
  Check(message.find("unsigned char (BYTE) or unsigned short (SHORT)") != std::string::npos,
        "float pixels are refused: " + message);

  auto                      skewed = MakeImage<UCharImage>({ 4, 3, 2 });
  UCharImage::DirectionType direction;
  direction.SetIdentity();
  direction[2][2] = -1.0; // left-handed: the slice axis is not dir_h x dir_v
  skewed->SetDirection(direction);
  message = WriteError<UCharImage>(skewed, target);
  Check(message.find("is not dir_h x dir_v") != std::string::npos, "a left-handed volume is refused: " + message);
  Check(ReadBytes(target) == original, "a refused write leaves the existing file intact");

  // With one slice the slice axis places no voxel: a flipped one is accepted.
  auto oneSlice = MakeImage<UCharImage>({ 4, 3, 1 });
  oneSlice->SetDirection(direction);
  Check(WriteError<UCharImage>(oneSlice, paths.Scratch + "/one-slice-flipped.tag").empty(),
        "a one-slice image with a flipped slice axis is written");

  auto                    tiny = MakeImage<UCharImage>({ 4, 3, 1 });
  UCharImage::SpacingType spacing;
  spacing.Fill(1e-5);
  tiny->SetSpacing(spacing);
  message = WriteError<UCharImage>(tiny, paths.Scratch + "/tiny.tag");
  Check(message.find("4 decimals") != std::string::npos, "a spacing lost to rounding is refused: " + message);

  message = WriteError<UCharImage>(oneSlice, paths.Scratch + "/no-such-folder/out.tag");
  Check(message.find("no-such-folder/out.tag") != std::string::npos, "an unwritable path names the file: " + message);

  std::vector<std::string> leftovers;
  itk::Directory::Pointer  folder = itk::Directory::New();
  folder->Load(paths.Scratch.c_str());
  for (unsigned long i = 0; i < folder->GetNumberOfFiles(); ++i)
  {
    Check(std::string(folder->GetFile(i)).find(".itk-tag-tmp-") == std::string::npos,
          "no temporary file is left behind");
  }
}

// --------------------------------------------------------------- streaming
void
TestStreamedRead(const Paths & paths)
{
  const GeneratedCase c = GeneratedCases()[8]; // multi-slice, 5x4x6
  Check(c.Name == "multi-slice", "case order");
  const std::string fileName = WriteCase(paths, c);
  const auto        values = VoxelValues(c);

  for (unsigned int slice : { 0u, 3u, 5u })
  {
    using ReaderType = itk::ImageFileReader<UCharImage>;
    auto reader = ReaderType::New();
    reader->SetFileName(fileName);
    reader->SetImageIO(itk::TagImageIO::New());
    reader->UpdateOutputInformation();
    UCharImage::RegionType region = reader->GetOutput()->GetLargestPossibleRegion();
    region.SetIndex(2, slice);
    region.SetSize(2, 1);
    reader->SetUseStreaming(true);
    reader->GetOutput()->SetRequestedRegion(region);
    reader->Update();
    const UCharImage * image = reader->GetOutput();
    Check(image->GetBufferedRegion() == region, "only the requested slice is read");
    itk::ImageRegionConstIterator<UCharImage> it(image, region);
    for (; !it.IsAtEnd(); ++it)
    {
      const auto   index = it.GetIndex();
      const size_t offset = index[0] + c.Size[0] * (index[1] + c.Size[1] * index[2]);
      Check(it.Get() == values[offset], "streamed voxel value");
    }
  }
}
/** A caller of the raw ImageIO API that sets no region, or a zero-size one,
 * gets the whole image (it got an untouched buffer before). */
void
TestRawApiRead(const Paths & paths)
{
  const GeneratedCase c = GeneratedCases()[8]; // multi-slice, 5x4x6
  const std::string   fileName = WriteCase(paths, c);
  const auto          values = VoxelValues(c);
  for (const bool zeroSizeRegion : { false, true })
  {
    auto io = itk::TagImageIO::New();
    io->SetFileName(fileName);
    io->ReadImageInformation();
    if (zeroSizeRegion)
    {
      io->SetIORegion(itk::ImageIORegion(3));
    }
    std::vector<unsigned char> buffer(io->GetImageSizeInBytes(), 0);
    io->Read(buffer.data());
    Check(std::equal(buffer.begin(), buffer.end(), values.begin(), values.end()),
          "Read(buffer) without a region reads the whole image");
  }
}
} // namespace

int
main(int argc, char * argv[])
{
  const std::map<std::string, void (*)(const Paths &)> cases = {
    { "RealFiles", TestRealFiles },     { "FormatRules", TestFormatRules },
    { "CanReadFile", TestCanReadFile }, { "Errors", TestErrors },
    { "RoundTrip", TestRoundTrip },     { "TwoDimensionalWrite", TestTwoDimensionalWrite },
    { "WriteErrors", TestWriteErrors }, { "StreamedRead", TestStreamedRead },
    { "RawApiRead", TestRawApiRead },
  };
  return RunCase(argc, argv, cases);
}
