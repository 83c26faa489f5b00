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
 * Force-included (-include) into the fuzzer's sources when they are compiled
 * by clang against an ITK whose itk_compiler_detection.h was generated for
 * GCC only (Debian's ITK 5.2 stops with "Unsupported compiler" under clang).
 * The header is read once as it would be by a GCC with full C++14 support;
 * its include guard keeps ITK from reading it again. Only that header sees
 * the pretended compiler: clang's own macros are restored right after, so
 * the C and C++ library headers see clang. Clang is GCC-compatible for every
 * feature the header selects.
 */
#ifndef itkClangCompilerDetection_h
#define itkClangCompilerDetection_h

#if defined(__clang__) && !defined(ITK_COMPILER_DETECTION_H)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wbuiltin-macro-redefined"
#pragma clang diagnostic ignored "-Wmacro-redefined"
#pragma push_macro("__clang__")
#pragma push_macro("__GNUC__")
#pragma push_macro("__GNUC_MINOR__")
#undef __clang__
#undef __GNUC__
#undef __GNUC_MINOR__
#define __GNUC__ 12
#define __GNUC_MINOR__ 2
#include "itk_compiler_detection.h"
#pragma pop_macro("__GNUC_MINOR__")
#pragma pop_macro("__GNUC__")
#pragma pop_macro("__clang__")
#pragma clang diagnostic pop
#endif

#endif
