// train/onnx_model.h — an exported face model (train/onnx.h, export_onnx) loaded back as a
// FaceModel, so that the tools (embed, verify, eval_pairs) score a deployed .onnx file the
// way they score a train_faces folder: the same image preparation, the same LFW protocol.
//
// The config comes from the file's metadata_props (arch, channels, crop, input, emb_dim, loss,
// s, m, threshold, threshold_flip, and the fixed resize, normalize and layout that margin's
// image preparation assumes); the backbone is an OnnxNetwork, OpenCV's DNN module running the
// graph on the CPU (DNN_BACKEND_OPENCV, DNN_TARGET_CPU): images [N, C, H, W] → embeddings
// [N, emb_dim], float32, returned on the input's device. It has no parameters, runs in eval
// mode only and records no gradient. There is no loss head (`head` is null) and no training
// identities (classes 0, held_out empty).
//
// Built in the library margin_onnx, which the tools link whatever the build's options: with
// ONNX and OpenCV's DNN module (CMake: MARGIN_ONNX, MARGIN_OPENCV_DNN) it loads; without one
// of them a .onnx path is an error that says what to install and that margin must be rebuilt.
// Every error names the file, and the metadata key or the shape that is wrong.
#pragma once
#include <string>

#include "train/face_model.h"

namespace margin {

// `path` is an ONNX file written by export_onnx.
FaceModel load_onnx_face_model(const std::string& path);
// Its metadata only, as a FaceModelConfig (needs ONNX, not OpenCV).
FaceModelConfig onnx_face_config(const std::string& path);

// What the tools call for --model: a regular file whose name ends in ".onnx" is loaded with
// load_onnx_face_model (`weights` must then be empty: the weights are in the file), anything
// else is a train_faces folder for load_face_model(path, weights).
FaceModel load_face_model_or_onnx(const std::string& path, const std::string& weights = "");

}  // namespace margin
