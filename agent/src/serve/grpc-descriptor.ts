// The Open Inference Protocol's gRPC schema (proto/open_inference_grpc.proto) as a protobufjs
// JSON descriptor: the single executable bundles it as code, with no .proto file to find at run
// time. grpc.test.ts checks it against the .proto file, field by field; after changing the
// .proto, regenerate it from protobufjs's `parse(text, { keepCase: true }).root.toJSON()`.
export const OPEN_INFERENCE_DESCRIPTOR = {
  nested: {
    inference: {
      nested: {
        GRPCInferenceService: {
          methods: {
            ServerLive: {
              requestType: 'ServerLiveRequest',
              responseType: 'ServerLiveResponse'
            },
            ServerReady: {
              requestType: 'ServerReadyRequest',
              responseType: 'ServerReadyResponse'
            },
            ModelReady: {
              requestType: 'ModelReadyRequest',
              responseType: 'ModelReadyResponse'
            },
            ServerMetadata: {
              requestType: 'ServerMetadataRequest',
              responseType: 'ServerMetadataResponse'
            },
            ModelMetadata: {
              requestType: 'ModelMetadataRequest',
              responseType: 'ModelMetadataResponse'
            },
            ModelInfer: {
              requestType: 'ModelInferRequest',
              responseType: 'ModelInferResponse'
            },
            ModelConfig: {
              requestType: 'ModelConfigRequest',
              responseType: 'ModelConfigResponse'
            }
          }
        },
        ServerLiveRequest: {
          fields: {}
        },
        ServerLiveResponse: {
          fields: {
            live: {
              type: 'bool',
              id: 1
            }
          }
        },
        ServerReadyRequest: {
          fields: {}
        },
        ServerReadyResponse: {
          fields: {
            ready: {
              type: 'bool',
              id: 1
            }
          }
        },
        ModelReadyRequest: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            version: {
              type: 'string',
              id: 2
            }
          }
        },
        ModelReadyResponse: {
          fields: {
            ready: {
              type: 'bool',
              id: 1
            }
          }
        },
        ServerMetadataRequest: {
          fields: {}
        },
        ServerMetadataResponse: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            version: {
              type: 'string',
              id: 2
            },
            extensions: {
              rule: 'repeated',
              type: 'string',
              id: 3
            }
          }
        },
        ModelMetadataRequest: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            version: {
              type: 'string',
              id: 2
            }
          }
        },
        ModelMetadataResponse: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            versions: {
              rule: 'repeated',
              type: 'string',
              id: 2
            },
            platform: {
              type: 'string',
              id: 3
            },
            inputs: {
              rule: 'repeated',
              type: 'TensorMetadata',
              id: 4
            },
            outputs: {
              rule: 'repeated',
              type: 'TensorMetadata',
              id: 5
            }
          },
          nested: {
            TensorMetadata: {
              fields: {
                name: {
                  type: 'string',
                  id: 1
                },
                datatype: {
                  type: 'string',
                  id: 2
                },
                shape: {
                  rule: 'repeated',
                  type: 'int64',
                  id: 3
                }
              }
            }
          }
        },
        ModelInferRequest: {
          fields: {
            model_name: {
              type: 'string',
              id: 1
            },
            model_version: {
              type: 'string',
              id: 2
            },
            id: {
              type: 'string',
              id: 3
            },
            parameters: {
              keyType: 'string',
              type: 'InferParameter',
              id: 4
            },
            inputs: {
              rule: 'repeated',
              type: 'InferInputTensor',
              id: 5
            },
            outputs: {
              rule: 'repeated',
              type: 'InferRequestedOutputTensor',
              id: 6
            },
            raw_input_contents: {
              rule: 'repeated',
              type: 'bytes',
              id: 7
            }
          },
          nested: {
            InferInputTensor: {
              fields: {
                name: {
                  type: 'string',
                  id: 1
                },
                datatype: {
                  type: 'string',
                  id: 2
                },
                shape: {
                  rule: 'repeated',
                  type: 'int64',
                  id: 3
                },
                parameters: {
                  keyType: 'string',
                  type: 'InferParameter',
                  id: 4
                },
                contents: {
                  type: 'InferTensorContents',
                  id: 5
                }
              }
            },
            InferRequestedOutputTensor: {
              fields: {
                name: {
                  type: 'string',
                  id: 1
                },
                parameters: {
                  keyType: 'string',
                  type: 'InferParameter',
                  id: 2
                }
              }
            }
          }
        },
        ModelInferResponse: {
          fields: {
            model_name: {
              type: 'string',
              id: 1
            },
            model_version: {
              type: 'string',
              id: 2
            },
            id: {
              type: 'string',
              id: 3
            },
            parameters: {
              keyType: 'string',
              type: 'InferParameter',
              id: 4
            },
            outputs: {
              rule: 'repeated',
              type: 'InferOutputTensor',
              id: 5
            },
            raw_output_contents: {
              rule: 'repeated',
              type: 'bytes',
              id: 6
            }
          },
          nested: {
            InferOutputTensor: {
              fields: {
                name: {
                  type: 'string',
                  id: 1
                },
                datatype: {
                  type: 'string',
                  id: 2
                },
                shape: {
                  rule: 'repeated',
                  type: 'int64',
                  id: 3
                },
                parameters: {
                  keyType: 'string',
                  type: 'InferParameter',
                  id: 4
                },
                contents: {
                  type: 'InferTensorContents',
                  id: 5
                }
              }
            }
          }
        },
        InferParameter: {
          oneofs: {
            parameter_choice: {
              oneof: [
                'bool_param',
                'int64_param',
                'string_param',
                'double_param',
                'uint64_param'
              ]
            }
          },
          fields: {
            bool_param: {
              type: 'bool',
              id: 1
            },
            int64_param: {
              type: 'int64',
              id: 2
            },
            string_param: {
              type: 'string',
              id: 3
            },
            double_param: {
              type: 'double',
              id: 4
            },
            uint64_param: {
              type: 'uint64',
              id: 5
            }
          }
        },
        InferTensorContents: {
          fields: {
            bool_contents: {
              rule: 'repeated',
              type: 'bool',
              id: 1
            },
            int_contents: {
              rule: 'repeated',
              type: 'int32',
              id: 2
            },
            int64_contents: {
              rule: 'repeated',
              type: 'int64',
              id: 3
            },
            uint_contents: {
              rule: 'repeated',
              type: 'uint32',
              id: 4
            },
            uint64_contents: {
              rule: 'repeated',
              type: 'uint64',
              id: 5
            },
            fp32_contents: {
              rule: 'repeated',
              type: 'float',
              id: 6
            },
            fp64_contents: {
              rule: 'repeated',
              type: 'double',
              id: 7
            },
            bytes_contents: {
              rule: 'repeated',
              type: 'bytes',
              id: 8
            }
          }
        },
        ModelConfigRequest: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            version: {
              type: 'string',
              id: 2
            }
          }
        },
        ModelConfigResponse: {
          fields: {
            config: {
              type: 'ModelConfig',
              id: 1
            }
          }
        },
        DataType: {
          values: {
            TYPE_INVALID: 0,
            TYPE_BOOL: 1,
            TYPE_UINT8: 2,
            TYPE_UINT16: 3,
            TYPE_UINT32: 4,
            TYPE_UINT64: 5,
            TYPE_INT8: 6,
            TYPE_INT16: 7,
            TYPE_INT32: 8,
            TYPE_INT64: 9,
            TYPE_FP16: 10,
            TYPE_FP32: 11,
            TYPE_FP64: 12,
            TYPE_STRING: 13,
            TYPE_BF16: 14
          }
        },
        ModelInput: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            data_type: {
              type: 'DataType',
              id: 2
            },
            dims: {
              rule: 'repeated',
              type: 'int64',
              id: 4
            }
          }
        },
        ModelOutput: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            data_type: {
              type: 'DataType',
              id: 2
            },
            dims: {
              rule: 'repeated',
              type: 'int64',
              id: 3
            }
          }
        },
        ModelConfig: {
          fields: {
            name: {
              type: 'string',
              id: 1
            },
            platform: {
              type: 'string',
              id: 2
            },
            max_batch_size: {
              type: 'int32',
              id: 4
            },
            input: {
              rule: 'repeated',
              type: 'ModelInput',
              id: 5
            },
            output: {
              rule: 'repeated',
              type: 'ModelOutput',
              id: 6
            },
            backend: {
              type: 'string',
              id: 17
            }
          }
        }
      }
    }
  }
} as const;
