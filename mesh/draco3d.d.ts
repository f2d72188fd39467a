// The parts of npm draco3d (Google's Draco, compiled to WebAssembly) that digest uses: the mesh
// encoder with integer positions, and the decoder (tests read fragments back with it).
declare module 'draco3d' {
  interface Destroyable {
    readonly __brand?: unknown;
  }
  export interface DracoInt8Array extends Destroyable {
    size(): number;
    GetValue(i: number): number;
  }
  export interface DracoInt32Array extends Destroyable {
    size(): number;
    GetValue(i: number): number;
  }
  export interface EncoderModule {
    Mesh: new () => Destroyable;
    MeshBuilder: new () => Destroyable & {
      AddFacesToMesh(mesh: Destroyable, faces: number, indices: Uint32Array): boolean;
      AddInt32AttributeToMesh(mesh: Destroyable, type: number, points: number, components: number, values: Int32Array): number;
    };
    Encoder: new () => Destroyable & {
      SetEncodingMethod(method: number): void;
      SetSpeedOptions(encode: number, decode: number): void;
      EncodeMeshToDracoBuffer(mesh: Destroyable, out: DracoInt8Array): number;
    };
    DracoInt8Array: new () => DracoInt8Array;
    POSITION: number;
    MESH_EDGEBREAKER_ENCODING: number;
    destroy(o: Destroyable): void;
  }
  export interface DecoderModule {
    DecoderBuffer: new () => Destroyable & { Init(data: Int8Array, size: number): void };
    Decoder: new () => Destroyable & {
      GetEncodedGeometryType(buffer: Destroyable): number;
      DecodeBufferToMesh(buffer: Destroyable, mesh: Destroyable): { ok(): boolean; error_msg(): string };
      GetAttributeId(mesh: Destroyable, type: number): number;
      GetAttribute(mesh: Destroyable, id: number): Destroyable;
      GetAttributeInt32ForAllPoints(mesh: Destroyable, attribute: Destroyable, out: DracoInt32Array): boolean;
      GetFaceFromMesh(mesh: Destroyable, face: number, out: DracoInt32Array): boolean;
    };
    Mesh: new () => Destroyable & { num_points(): number; num_faces(): number };
    DracoInt32Array: new () => DracoInt32Array;
    POSITION: number;
    TRIANGULAR_MESH: number;
    destroy(o: Destroyable): void;
  }
  export function createEncoderModule(options?: object): Promise<EncoderModule>;
  export function createDecoderModule(options?: object): Promise<DecoderModule>;
  const draco3d: { createEncoderModule: typeof createEncoderModule; createDecoderModule: typeof createDecoderModule };
  export default draco3d;
}
