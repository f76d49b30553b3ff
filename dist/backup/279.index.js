export const id = 279;
export const ids = [279];
export const modules = {

/***/ 9279:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   partSize: () => (/* binding */ partSize),
/* harmony export */   s3Storage: () => (/* binding */ s3Storage)
/* harmony export */ });
/* harmony import */ var _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3711);
/* harmony import */ var _index_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1765);
/**
 * Storage in an S3-compatible bucket, through @aws-sdk/client-s3.
 *
 * Objects of unknown length go up as a multipart upload whose parts grow: 16 MiB for the
 * first 2000 parts (32 GiB), 64 MiB up to part 4000 (160 GiB), then 256 MiB (past 1.6 TiB at
 * the 10 000-part limit). One part is held in memory at a time, so memory stays flat for
 * small backups and the size limit is far past 1 TB. (@aws-sdk/lib-storage's Upload uses one
 * fixed part size: 5 MiB fails past 48.8 GiB, and a size fit for 1 TB would hold 2 × 105 MiB
 * even for a small dump.) A stream that ends within the first part is one PutObject; a
 * failed upload is aborted, leaving nothing.
 */


const MiB = 1024 * 1024;
/** The size of part `n` (1-based). */
function partSize(n) {
    if (n <= 2000)
        return 16 * MiB;
    if (n <= 4000)
        return 64 * MiB;
    return 256 * MiB;
}
/** Read exactly `size` bytes (fewer only at the end of the stream). */
async function* parts(body) {
    let n = 1;
    let chunks = [];
    let have = 0;
    for await (const c of body) {
        let b = Buffer.isBuffer(c) ? c : Buffer.from(c);
        while (b.length) {
            const want = partSize(n) - have;
            const take = b.subarray(0, want);
            chunks.push(take);
            have += take.length;
            b = b.subarray(take.length);
            if (have === partSize(n)) {
                yield Buffer.concat(chunks);
                chunks = [];
                have = 0;
                n++;
            }
        }
    }
    if (have || n === 1)
        yield Buffer.concat(chunks);
}
function s3Storage(o) {
    const client = new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .S3Client */ .YxF({
        region: o.region,
        endpoint: o.endpoint,
        forcePathStyle: o.forcePathStyle,
        credentials: o.credentials,
        requestChecksumCalculation: o.checksum === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
        responseChecksumValidation: o.checksum === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    });
    const full = (key) => (0,_index_js__WEBPACK_IMPORTED_MODULE_1__/* .joinKey */ .ID)(o.prefix, key);
    const rel = (key) => (o.prefix ? key.slice((0,_index_js__WEBPACK_IMPORTED_MODULE_1__/* .joinKey */ .ID)(o.prefix).length + 1) : key);
    const Bucket = o.bucket;
    return {
        url: (0,_index_js__WEBPACK_IMPORTED_MODULE_1__/* .s3Url */ .AB)(o),
        async put(key, body) {
            const Key = full(key);
            const it = parts(body);
            const first = await it.next();
            const firstPart = first.value ?? Buffer.alloc(0);
            const second = first.done ? { done: true, value: undefined } : await it.next();
            if (second.done) {
                await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .PutObjectCommand */ .wKZ({ Bucket, Key, Body: firstPart, ContentLength: firstPart.length }));
                return firstPart.length;
            }
            const { UploadId } = await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .CreateMultipartUploadCommand */ .nG4({ Bucket, Key }));
            const done = [];
            let total = 0;
            try {
                let n = 1;
                const upload = async (b) => {
                    const r = await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .UploadPartCommand */ .iVK({ Bucket, Key, UploadId, PartNumber: n, Body: b, ContentLength: b.length }));
                    done.push({ ETag: r.ETag, PartNumber: n });
                    total += b.length;
                    n++;
                };
                await upload(firstPart);
                await upload(second.value);
                for await (const b of it)
                    await upload(b);
                await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .CompleteMultipartUploadCommand */ .Gym({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
                return total;
            }
            catch (e) {
                await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .AbortMultipartUploadCommand */ .tfP({ Bucket, Key, UploadId })).catch(() => { });
                throw e;
            }
        },
        async get(key) {
            const r = await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .GetObjectCommand */ .jLs({ Bucket, Key: full(key) }));
            return r.Body;
        },
        async list(prefix) {
            const out = [];
            let ContinuationToken;
            do {
                const r = await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .ListObjectsV2Command */ .u6x({ Bucket, Prefix: `${full(prefix)}/`, ContinuationToken }));
                for (const c of r.Contents ?? [])
                    if (c.Key)
                        out.push({ key: rel(c.Key), size: c.Size ?? 0, modified: c.LastModified ?? new Date(0) });
                ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
            } while (ContinuationToken);
            return out.sort((a, b) => (a.key < b.key ? -1 : 1));
        },
        async remove(keys) {
            for (let i = 0; i < keys.length; i += 1000) {
                const batch = keys.slice(i, i + 1000);
                const r = await client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_0__/* .DeleteObjectsCommand */ .xvx({ Bucket, Delete: { Objects: batch.map((k) => ({ Key: full(k) })), Quiet: true } }));
                if (r.Errors?.length)
                    throw new Error(`deleting from s3://${Bucket} failed: ${r.Errors.map((e) => `${e.Key}: ${e.Message}`).join('; ')}`);
            }
        },
        async close() {
            client.destroy();
        },
    };
}


/***/ })

};
