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
#include "itkTagImageIOFactory.h"

#include "itkTagImageIO.h"
#include "itkVersion.h"

namespace itk
{
TagImageIOFactory::TagImageIOFactory()
{
  this->RegisterOverride(
    "itkImageIOBase", "itkTagImageIO", "sliceOmatic .tag Image IO", true, CreateObjectFunction<TagImageIO>::New());
}

const char *
TagImageIOFactory::GetITKSourceVersion() const
{
  return ITK_SOURCE_VERSION;
}

const char *
TagImageIOFactory::GetDescription() const
{
  return "sliceOmatic .tag ImageIO Factory, allows the loading of sliceOmatic tag (segmentation) images into ITK";
}

void
TagImageIOFactory::PrintSelf(std::ostream & os, Indent indent) const
{
  Superclass::PrintSelf(os, indent);
}

// Undocumented API used to register during static initialization.
// DO NOT CALL DIRECTLY.
static bool TagImageIOFactoryHasBeenRegistered;

void IOTag_EXPORT
TagImageIOFactoryRegister__Private()
{
  if (!TagImageIOFactoryHasBeenRegistered)
  {
    TagImageIOFactoryHasBeenRegistered = true;
    TagImageIOFactory::RegisterOneFactory();
  }
}
} // end namespace itk
