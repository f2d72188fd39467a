#!/usr/bin/python3
# Writes the lab files the lab-source tests read, with the writers labs use (Debian's python3-tifffile,
# python3-h5py, python3-zarr, python3-numpy, python3-pil), into the directory given; each file's voxels also go to
# <name>.raw (little-endian, x fastest: numpy's C order of a (z, y, x) array) with its dtype and shape
# in manifest.json. zarr v3 is written by hand from the v3 spec (Debian's zarr 2.13 writes v2 only).
import gzip, json, os, sys
import numpy as np
import h5py, tifffile, zarr, numcodecs

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(26)
# Odd sizes: 37 x 29 x 11 voxels (x, y, z), held as (z, y, x).
Z, Y, X = 11, 29, 37
manifest = {}

def keep(name, array, **extra):
    array.astype(array.dtype.newbyteorder('<')).tofile(os.path.join(out, name + '.raw'))
    manifest[name] = {'dtype': str(array.dtype), 'shape': [int(s) for s in array.shape[::-1]], **extra}

u8 = rng.integers(0, 256, (Z, Y, X), dtype=np.uint8)
u16 = rng.integers(0, 65536, (Z, Y, X), dtype=np.uint16)
f32 = rng.standard_normal((Z, Y, X)).astype(np.float32)
labels = rng.integers(0, 2**40, (Z, Y, X), dtype=np.uint64) // (1 + rng.integers(0, 3, (Z, Y, X), dtype=np.uint64))

# TIFF: a directory of 2D slices named s1..s11 (natural order differs from the names' sort).
os.makedirs(os.path.join(out, 'slices'), exist_ok=True)
for z in range(Z):
    tifffile.imwrite(os.path.join(out, 'slices', f's{z + 1}.tif'), u8[z])
keep('slices', u8)
# A multipage TIFF, deflate, striped; a float32 one; a tiled BigTIFF.
tifffile.imwrite(os.path.join(out, 'multipage.tif'), u16, compression='zlib', rowsperstrip=5)
keep('multipage', u16)
tifffile.imwrite(os.path.join(out, 'float.tif'), f32)
keep('float', f32)
tifffile.imwrite(os.path.join(out, 'tiled.tif'), u16, bigtiff=True, tile=(16, 16), compression='zlib')
keep('tiled', u16)
# Big-endian ("MM") 16-bit tiled slices, one file each (geotiff 3.0.5 misreads the tile byte counts
# of tifffile's big-endian multipage files from the third page on: 512 as 2).
os.makedirs(os.path.join(out, 'bigendian'), exist_ok=True)
for z in range(Z):
    tifffile.imwrite(os.path.join(out, 'bigendian', f'z{z:03d}.tif'), u16[z], byteorder='>', tile=(16, 16))
keep('bigendian', u16)

# LZW and PackBits (tifffile needs imagecodecs for these, which Debian lacks): Pillow's writer, a
# multipage 8-bit LZW TIFF and a multipage 16-bit PackBits one.
from PIL import Image
pages = [Image.fromarray(u8[z]) for z in range(Z)]
pages[0].save(os.path.join(out, 'lzw.tif'), save_all=True, append_images=pages[1:], compression='tiff_lzw')
keep('lzw', u8)
pages16 = [Image.fromarray(u16[z]) for z in range(Z)]
pages16[0].save(os.path.join(out, 'packbits.tif'), save_all=True, append_images=pages16[1:], compression='packbits')
keep('packbits', u16)

# HDF5: chunked gzip, and contiguous.
with h5py.File(os.path.join(out, 'volume.h5'), 'w') as f:
    f.create_dataset('/volumes/raw', data=u16, chunks=(4, 8, 8), compression='gzip')
    f.create_dataset('/contiguous', data=u8)
    f.create_dataset('/labels', data=labels, chunks=(5, 16, 16), compression='gzip')
keep('hdf5-chunked', u16)
keep('hdf5-contiguous', u8)
keep('hdf5-labels', labels)

# zarr v2: gzip and blosc.
zarr.save_array(os.path.join(out, 'gzip.zarr'), u16, chunks=(4, 10, 10), compressor=numcodecs.GZip(5))
keep('zarr-gzip', u16)
zarr.save_array(os.path.join(out, 'blosc.zarr'), u8, chunks=(3, 16, 16), compressor=numcodecs.Blosc('zstd', 5, numcodecs.Blosc.SHUFFLE))
keep('zarr-blosc', u8)

# zarr v3 by hand: a regular grid of 4x8x16 (z, y, x) chunks, "bytes" little-endian then "gzip";
# default chunk keys c/<z>/<y>/<x>; the last chunks are full-size with fill past the array.
v3 = os.path.join(out, 'v3.zarr')
os.makedirs(v3, exist_ok=True)
cz, cy, cx = 4, 8, 16
with open(os.path.join(v3, 'zarr.json'), 'w') as f:
    json.dump({'zarr_format': 3, 'node_type': 'array', 'shape': [Z, Y, X], 'data_type': 'uint16',
               'chunk_grid': {'name': 'regular', 'configuration': {'chunk_shape': [cz, cy, cx]}},
               'chunk_key_encoding': {'name': 'default', 'configuration': {'separator': '/'}},
               'fill_value': 0, 'codecs': [{'name': 'bytes', 'configuration': {'endian': 'little'}}, {'name': 'gzip', 'configuration': {'level': 5}}],
               'attributes': {}}, f)
for k in range(-(-Z // cz)):
    for j in range(-(-Y // cy)):
        for i in range(-(-X // cx)):
            chunk = np.zeros((cz, cy, cx), np.uint16)
            part = u16[k * cz:(k + 1) * cz, j * cy:(j + 1) * cy, i * cx:(i + 1) * cx]
            chunk[:part.shape[0], :part.shape[1], :part.shape[2]] = part
            os.makedirs(os.path.join(v3, 'c', str(k), str(j)), exist_ok=True)
            with open(os.path.join(v3, 'c', str(k), str(j), str(i)), 'wb') as f:
                f.write(gzip.compress(chunk.astype('<u2').tobytes()))
keep('zarr-v3', u16)

# zarr v3 with the sharding codec, by hand: shards of 4x16x32 (z, y, x) of inner chunks of 2x8x16,
# each "bytes" then "gzip"; the index at the shard's end, (offset, nbytes) as little-endian uint64 per
# inner chunk in C order ("bytes" only), 2^64-1 twice for an inner chunk left out (all fill value).
v3s = os.path.join(out, 'v3-sharded.zarr')
os.makedirs(v3s, exist_ok=True)
sz_, sy_, sx_ = 4, 16, 32
iz, iy, ix = 2, 8, 16
with open(os.path.join(v3s, 'zarr.json'), 'w') as f:
    json.dump({'zarr_format': 3, 'node_type': 'array', 'shape': [Z, Y, X], 'data_type': 'uint16',
               'chunk_grid': {'name': 'regular', 'configuration': {'chunk_shape': [sz_, sy_, sx_]}},
               'chunk_key_encoding': {'name': 'default', 'configuration': {'separator': '/'}}, 'fill_value': 0,
               'codecs': [{'name': 'sharding_indexed', 'configuration': {
                   'chunk_shape': [iz, iy, ix],
                   'codecs': [{'name': 'bytes', 'configuration': {'endian': 'little'}}, {'name': 'gzip', 'configuration': {'level': 5}}],
                   'index_codecs': [{'name': 'bytes', 'configuration': {'endian': 'little'}}],
                   'index_location': 'end'}}],
               'attributes': {}}, f)
sharded = u16.copy()
sharded[:2, :8, :16] = 0  # one inner chunk all fill value: left out of its shard
for k in range(-(-Z // sz_)):
    for j in range(-(-Y // sy_)):
        for i in range(-(-X // sx_)):
            shard = np.zeros((sz_, sy_, sx_), np.uint16)
            part = sharded[k * sz_:(k + 1) * sz_, j * sy_:(j + 1) * sy_, i * sx_:(i + 1) * sx_]
            shard[:part.shape[0], :part.shape[1], :part.shape[2]] = part
            body, index = b'', []
            for c in range(sz_ // iz):
                for b in range(sy_ // iy):
                    for a in range(sx_ // ix):
                        inner = shard[c * iz:(c + 1) * iz, b * iy:(b + 1) * iy, a * ix:(a + 1) * ix]
                        if (k, j, i, c, b, a) == (0, 0, 0, 0, 0, 0):
                            index += [2**64 - 1, 2**64 - 1]
                            continue
                        data = gzip.compress(inner.astype('<u2').tobytes())
                        index += [len(body), len(data)]
                        body += data
            os.makedirs(os.path.join(v3s, 'c', str(k), str(j)), exist_ok=True)
            with open(os.path.join(v3s, 'c', str(k), str(j), str(i)), 'wb') as f:
                f.write(body + np.array(index, dtype='<u8').tobytes())
keep('zarr-v3-sharded', sharded)

# OME-Zarr (v0.4, zarr v2): levels 0 and 1 (1 = mean over 2x2 in x and y), axes z, y, x in
# nanometres, scale 40 x 8 x 8 nm at level 0, translated by 3 voxels in x and 2 in z.
ome = zarr.open_group(os.path.join(out, 'ome.zarr'), mode='w')
level1 = u8[:, : Y // 2 * 2, : X // 2 * 2].reshape(Z, Y // 2, 2, X // 2, 2).mean(axis=(2, 4)).astype(np.uint8)
ome.create_dataset('0', data=u8, chunks=(4, 16, 16))
ome.create_dataset('1', data=level1, chunks=(4, 16, 16))
ome.attrs['multiscales'] = [{
    'version': '0.4',
    'axes': [{'name': 'z', 'type': 'space', 'unit': 'nanometer'}, {'name': 'y', 'type': 'space', 'unit': 'nanometer'}, {'name': 'x', 'type': 'space', 'unit': 'nanometer'}],
    'datasets': [
        {'path': '0', 'coordinateTransformations': [{'type': 'scale', 'scale': [40, 8, 8]}, {'type': 'translation', 'translation': [80, 0, 24]}]},
        {'path': '1', 'coordinateTransformations': [{'type': 'scale', 'scale': [40, 16, 16]}, {'type': 'translation', 'translation': [80, 4, 28]}]},
    ],
}]
keep('ome-0', u8, resolution=[8, 8, 40], offset=[3, 0, 2])
keep('ome-1', level1, resolution=[16, 16, 40])

# N5 (zarr's N5Store), gzip blocks of 16 x 16 x 4 (x, y, z), with a resolution attribute.
n5 = zarr.open(zarr.N5Store(os.path.join(out, 'volume.n5')), mode='w')
n5.create_dataset('raw', data=u16, chunks=(4, 16, 16), compressor=numcodecs.GZip(5))
n5['raw'].attrs['resolution'] = [4, 4, 40]
keep('n5', u16, resolution=[4, 4, 40])

with open(os.path.join(out, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=1)
