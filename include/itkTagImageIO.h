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
#ifndef itkTagImageIO_h
#define itkTagImageIO_h

#include "IOTagExport.h"
#include "itkStreamingImageIOBase.h"
#include "itkTagCompat.h"
#include "itkTagHeader.h"

namespace itk
{
/**
 * \class TagImageIO
 * \brief Reads and writes sliceOmatic `.tag` segmentation (tag) images.
 *
 * A `.tag` file holds the labels (0-255, 0 = no tag) that sliceOmatic drew on
 * a source image, usually a DICOM slice stored beside it. The file is an ASCII
 * `keyword:value` header ended by a form feed, followed by the voxels, x
 * fastest, in the same order as an ITK buffer. TagHeader holds the header
 * rules; this class maps the header onto ImageIOBase.
 *
 * Reading gives a 3D image (also for a single slice) of unsigned char
 * (`type:BYTE`) or unsigned short (`type:SHORT`, little endian), with origin,
 * spacing and direction in LPS as in DICOM. Every header keyword is stored as
 * a std::string in the MetaDataDictionary under its lower-case name (x, y,
 * z, type, org_x, ..., uid, chksum, bin and any unknown keyword).
 *
 * Reading streams: only the bytes of the requested region are read, so one
 * slice of a tall volume costs one slice.
 *
 * Writing produces the layout of files written by sliceOmatic (4 decimals,
 * LF line ends, a form feed, then the voxels) for 2D or 3D unsigned char or
 * unsigned short images. String entries of the MetaDataDictionary whose key
 * is a plain lower-case keyword and whose value is one token (uid, chksum,
 * bin, ...) are written back; geometry always comes from the image. Images
 * the format cannot hold (other pixel types, a direction whose third column
 * is not dir_h x dir_v, a spacing that rounds to zero) are refused with an
 * exception. The file is written to a temporary name and renamed, so an
 * existing file is never left half written.
 *
 * \sa TagHeader TagImageIOFactory
 * \ingroup IOFilters
 * \ingroup IOTag
 */
class IOTag_EXPORT TagImageIO : public StreamingImageIOBase
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(TagImageIO);

  /** Standard class type aliases. */
  using Self = TagImageIO;
  using Superclass = StreamingImageIOBase;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  /** Factory-less New: a copy of ITK linked privately into a plugin must not
   * start an object factory machinery of its own when the host creates us. */
  itkFactorylessNewMacro(Self);

  /** \see LightObject::GetNameOfClass() */
  itkOverrideGetNameOfClassMacro(TagImageIO);

  /** Claims files whose content starts like a sliceOmatic header; MNI
   * landmark `.tag` files, other formats and binary data are refused. */
  bool
  CanReadFile(const char * fileName) override;

  void
  ReadImageInformation() override;

  void
  Read(void * buffer) override;

  /** True for the `.tag` extension (any case). */
  bool
  CanWriteFile(const char * fileName) override;

  /** The header is written together with the data in Write(). */
  void
  WriteImageInformation() override
  {
  }

  void
  Write(const void * buffer) override;

  /** Pasting into an existing file is not supported: the whole image is
   * written at once. */
  bool
  CanStreamWrite() override
  {
    return false;
  }

  /** The header read by the last ReadImageInformation(). */
  const TagHeader &
  GetHeader() const
  {
    return m_Header;
  }

protected:
  TagImageIO();
  ~TagImageIO() override = default;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

  SizeType
  GetHeaderSize() const override
  {
    return m_Header.HeaderSize;
  }

private:
  /** Builds the header text for the image set on this IO. */
  std::string
  MakeHeaderText() const;

  TagHeader m_Header{};
};
} // end namespace itk

#endif // itkTagImageIO_h
