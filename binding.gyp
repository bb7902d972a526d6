{
  # The cpu backend's native addon. kernels.cc is compiled once per instruction set (separate static
  # libraries with their own -m flags); addon.cc picks one at run time with __builtin_cpu_supports.
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17", "-O2", "-O0"],
    "cflags_cc": ["-std=gnu++17", "-O3", "-fno-exceptions", "-ffp-contract=fast", "-fPIC", "-Wno-unused-function"],
    "cflags!": ["-O2", "-O0"],
    "cflags": ["-O3", "-fPIC"],
    "xcode_settings": {
      "OTHER_CPLUSPLUSFLAGS": ["-std=gnu++17", "-O3", "-ffp-contract=fast"]
    }
  },
  "targets": [
    {
      "target_name": "sbp_kernels_portable",
      "type": "static_library",
      "sources": ["native/kernels.cc", "native/thread-pool.cc"]
    },
    {
      # The host sampler must compute the same float64 bits as the TypeScript one: no fused
      # multiply-add, in this build and the two below.
      "target_name": "sbp_sampler_portable",
      "type": "static_library",
      "sources": ["native/logits-sampler.cc"],
      "cflags_cc!": ["-ffp-contract=fast"],
      "cflags_cc": ["-ffp-contract=off"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"] }
    },
    {
      "target_name": "sbp_native",
      "sources": ["native/addon.cc"],
      "dependencies": ["sbp_kernels_portable", "sbp_sampler_portable"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["SBP_HAVE_X86_KERNELS"],
          "dependencies": ["sbp_kernels_avx2", "sbp_kernels_avx512", "sbp_sampler_avx2", "sbp_sampler_avx512"]
        }],
        ["OS!='win'", { "libraries": ["-lpthread"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "sbp_kernels_avx2",
          "type": "static_library",
          "sources": ["native/kernels.cc"],
          "defines": ["SBP_ISA_AVX2"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"] }
        },
        {
          "target_name": "sbp_kernels_avx512",
          "type": "static_library",
          "sources": ["native/kernels.cc"],
          "defines": ["SBP_ISA_AVX512"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"] }
        },
        {
          "target_name": "sbp_sampler_avx2",
          "type": "static_library",
          "sources": ["native/logits-sampler.cc"],
          "defines": ["SBP_ISA_AVX2"],
          "cflags_cc!": ["-ffp-contract=fast"],
          "cflags_cc": ["-mavx2", "-mfma", "-ffp-contract=off"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-ffp-contract=off"] }
        },
        {
          "target_name": "sbp_sampler_avx512",
          "type": "static_library",
          "sources": ["native/logits-sampler.cc"],
          "defines": ["SBP_ISA_AVX512"],
          "cflags_cc!": ["-ffp-contract=fast"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512", "-ffp-contract=off"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-ffp-contract=off"] }
        }
      ]
    }]
  ]
}
