// losses/bounds.h — the theory of CosFace §3.3–3.4 as functions, so tests can check numbers.
//
// Scale (eq. 6): if every class centre is reached with posterior at least P_W, then
//     s ≥ (C − 1)/C · log((C − 1) · P_W / (1 − P_W)).
// (From softmax at the best case: the target cos 1 and the others spread with mean −1/(C−1).)
//
// Margin: with unit class weights W_1..W_C in K dimensions, LMCL separates a sample of class
// i from class j only if cos θ_i − m ≥ cos θ_j; at the feature x = W_i this needs
// m ≤ 1 − W_i·W_j for every j, so m ≤ 1 − max_{i≠j} W_i·W_j = 1 − cos θ_min, θ_min the
// smallest angle between two class centres — the best arrangement maximizes θ_min (the
// Tammes problem). The paper's cases:
//   K = 2:       C points on a circle, θ_min = 2π/C:         m ≤ 1 − cos(2π/C)
//   C ≤ K + 1:   a regular simplex, W_i·W_j = −1/(C−1):      m ≤ C/(C − 1)
//   C > K + 1:   the paper only states m < C/(C − 1) (the simplex can no longer be built).
// General form derived here (any K ≥ 2, any C): C spherical caps of angular radius θ_min/2
// around the W_i do not overlap, so their areas add up to at most the sphere's:
//     C · cap(θ_min/2) ≤ 1,   cap(φ) = ∫₀^φ sin^{K−2} t dt / ∫₀^π sin^{K−2} t dt,
// which bounds θ_min ≤ 2φ* with cap(φ*) = 1/C, hence m ≤ 1 − cos(2φ*). For K = 2 it is
// exact (cap(φ) = φ/π, φ* = π/C); for K = 3, cos φ* = 1 − 2/C. margin_upper_bound takes the
// smaller of this and C/(C − 1) (the simplex bound holds for every K: Σ_{i≠j} W_i·W_j ≥ −C).
//
// Decision boundaries for two classes with centres at angle φ (W_1 at 0, W_2 at φ, in their
// plane), for a feature at angle α from W_1:
//   NSL:  cos θ_1 = cos θ_2                       → α = φ/2
//   LMCL: cos θ_1 − m = cos θ_2  (class 1's side) → cos α − cos(φ − α) = m,
//         −2 sin(φ/2) sin(α − φ/2) = m            → α = φ/2 − asin(m / (2 sin(φ/2)))
// (class 2's boundary is the mirror image, α = φ/2 + asin(...)); between them lies the margin.
// Left out: ArcFace's and SphereFace's boundaries (cos(θ_1 + m) = cos θ_2: α = (φ − m)/2).
#pragma once
#include <cstdint>

namespace margin::bounds {

// The smallest s for which the posterior of every class can reach p_w (CosFace eq. 6).
double scale_lower_bound(int64_t classes, double p_w);
// m ≤ 1 − cos(2π/C): C class centres in the plane (K = 2).
double margin_upper_bound_circle(int64_t classes);
// m ≤ C/(C − 1): the regular simplex (C ≤ K + 1).
double margin_upper_bound_simplex(int64_t classes);
// The fraction of the unit sphere S^{K−1} within angle φ of a point.
double cap_fraction(double phi, int64_t dim);
// 1 − cos(2φ*) with cap_fraction(φ*, K) = 1/C: the cap-packing bound (any C, K ≥ 2).
double margin_upper_bound_packing(int64_t classes, int64_t dim);
// The paper's case for (C, K): circle for K = 2, simplex for C ≤ K + 1, else the packing
// bound (never above the simplex one).
double margin_upper_bound(int64_t classes, int64_t dim);

// α (radians from W_1) of the class-1 decision boundary for centres φ apart.
double nsl_boundary_angle(double phi);
double lmcl_boundary_angle(double phi, double margin);

}  // namespace margin::bounds
