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
#ifndef itkTagCompat_h
#define itkTagCompat_h

/** \file
 * The one place where differences between the ITK versions itk-tag builds
 * against (5.2, 5.4, 6) are bridged, so the rest of the code is written in
 * current ITK style.
 */

#include "itkMacro.h"

// ITK 5.4 introduced itkOverrideGetNameOfClassMacro; ITK 6 removed itkTypeMacro.
#ifndef itkOverrideGetNameOfClassMacro
#define itkOverrideGetNameOfClassMacro(thisClass) itkTypeMacro(thisClass, Superclass)
#endif

#endif // itkTagCompat_h
