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
#ifndef itkTagImageIOFactory_h
#define itkTagImageIOFactory_h

#include "IOTagExport.h"
#include "itkImageIOBase.h"
#include "itkObjectFactoryBase.h"
#include "itkTagCompat.h"

namespace itk
{
/**
 * \class TagImageIOFactory
 * \brief Creates TagImageIO instances through ITK's object factory, so that
 * ImageFileReader and ImageFileWriter open `.tag` files by themselves.
 *
 * \ingroup IOFilters
 * \ingroup IOTag
 */
class IOTag_EXPORT TagImageIOFactory : public ObjectFactoryBase
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(TagImageIOFactory);

  /** Standard class type aliases. */
  using Self = TagImageIOFactory;
  using Superclass = ObjectFactoryBase;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  /** Class methods used to interface with the registered factories. */
  const char *
  GetITKSourceVersion() const override;

  const char *
  GetDescription() const override;

  /** Method for class instantiation. */
  itkFactorylessNewMacro(Self);

  /** \see LightObject::GetNameOfClass() */
  itkOverrideGetNameOfClassMacro(TagImageIOFactory);

  /** Register one factory of this type. */
  static void
  RegisterOneFactory()
  {
    auto factory = TagImageIOFactory::New();
    ObjectFactoryBase::RegisterFactoryInternal(factory);
  }

protected:
  TagImageIOFactory();
  ~TagImageIOFactory() override = default;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;
};
} // end namespace itk

#endif // itkTagImageIOFactory_h
